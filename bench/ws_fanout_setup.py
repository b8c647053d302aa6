"""bench/ws_fanout.py's data, made by the code under test: run in that
checkout (the working directory), against DATABASE_URL's scratch database.

    python bench/ws_fanout_setup.py CLIENTS ROOMS [--conversations]

Migrates, creates CLIENTS users with a session cookie each and ROOMS rooms
(the users split evenly among them) through the tree's own services, and
prints them as JSON on its last line: {"clients": [{"i", "cookie", "room"}],
"rooms": {room id: [client numbers]}}. With ``--conversations`` (a tree
with DMs and threads) also a DM for each pair of neighbours in a room
("dms": {room id: [two client numbers]}) and a thread root in each room
("roots": {room id: root message id}).
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.getcwd())  # the checkout under test, not this script's


def main(n_clients: int, n_rooms: int, conversations: bool = False) -> None:
    """In the tree under test (the working directory): migrate, create the
    users with a session cookie each and the rooms, print them as JSON."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command

    from accounts.selectors import session_store
    from accounts.services import user_create
    from chatroom.models import RoomMember
    from chatroom.services import room_create

    call_command("migrate", verbosity=0)
    store = session_store()
    users, clients = [], []
    for i in range(n_clients):
        user = user_create(username=f"fan{i}", email=f"fan{i}@example.com", password=None)
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        users.append(user)
        clients.append({"i": i, "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}", "room": None})
    rooms = {}
    per_room = max(1, n_clients // n_rooms)
    for r in range(n_rooms):
        members = list(range(r * per_room, (r + 1) * per_room if r < n_rooms - 1 else n_clients))
        room = room_create(owner=users[members[0]], name=f"fan-room-{r}", max_members=100_000)
        RoomMember.objects.bulk_create([RoomMember(room=room, user=users[i]) for i in members[1:]])
        rooms[str(room.id)] = members
        for i in members:
            clients[i]["room"] = str(room.id)
    out = {"clients": clients, "rooms": rooms}
    if conversations:
        from chatroom.models import Room
        from chatroom.services import message_post
        from chatroom.services.dms import dm_open

        out["dms"], out["roots"] = {}, {}
        for members in rooms.values():
            for a, b in zip(members[0::2], members[1::2]):
                dm, _created = dm_open(actor=users[a], user_ids=[users[b].id])
                out["dms"][str(dm.id)] = [a, b]
        for room_id, members in rooms.items():
            root = message_post(actor=users[members[0]], room=Room.objects.get(pk=room_id), content="thread root")
            out["roots"][room_id] = str(root.id)
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), "--conversations" in sys.argv[3:])
