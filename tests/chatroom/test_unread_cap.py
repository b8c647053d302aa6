"""A room's unread count stops at UNREAD_COUNT_CAP and says so (``capped``),
in channels and DMs, counted fresh or from the Redis cache, on the API and in
the socket's ``ready`` rooms; mentions in a channel below the cap stay exact."""

import pytest
from django.test.utils import CaptureQueriesContext
from django.db import connection

from chatroom import selectors, services, socket_rooms
from chatroom.services.dms import dm_open


@pytest.fixture
def cap3(settings):
    settings.UNREAD_COUNT_CAP = 3
    settings.DM_POLICY = "anyone"


def _room_entry(user, room):
    return next(r for r in selectors.unread_counts(user=user)["rooms"] if r["room_id"] == str(room.id))


def test_a_channel_count_stops_at_the_cap_and_says_it_is_capped(cap3, make_room, member_of,
                                                                django_capture_on_commit_callbacks):
    room = make_room()
    reader = member_of(room)
    with django_capture_on_commit_callbacks(execute=True):
        msgs = [services.message_post(actor=room.owner, room=room, content=f"m{i}") for i in range(3)]
    # Exactly the cap is not capped: "3", not "3+".
    assert _room_entry(reader, room) == {"room_id": str(room.id), "unread": 3, "mentions": 0, "capped": False}
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(actor=room.owner, room=room, content=f"hey @{reader.username}")
        services.message_post(actor=room.owner, room=room, content="m5")
    entry = _room_entry(reader, room)
    assert entry == {"room_id": str(room.id), "unread": 3, "mentions": 1, "capped": True}
    # Served again from the cache, the same answer, and no counting query.
    with CaptureQueriesContext(connection) as queries:
        assert _room_entry(reader, room) == entry
    assert not any("AS unread FROM (SELECT 1" in q["sql"] for q in queries.captured_queries)
    body = selectors.unread_counts(user=reader)
    assert body["total"] == 3 and body["capped"] is True
    # Reading up to the second message leaves 3 unread (exact again).
    with django_capture_on_commit_callbacks(execute=True):
        services.read_mark(actor=reader, room=room, message_id=msgs[1].id)
    assert _room_entry(reader, room) == {"room_id": str(room.id), "unread": 3, "mentions": 1, "capped": False}


def test_a_dm_count_and_its_mentions_stop_at_the_cap(cap3, make_user):
    alice, bob = make_user(), make_user()
    room, _ = dm_open(actor=alice, user_ids=[bob.id])
    for i in range(5):
        services.message_post(actor=alice, room=room, content=f"dm {i}")
    assert _room_entry(bob, room) == {"room_id": str(room.id), "unread": 3, "mentions": 3, "capped": True}
    ready = {r["id"]: r for r in socket_rooms.ready_rooms(user=bob)}
    assert (ready[str(room.id)]["unread"], ready[str(room.id)]["mentions"], ready[str(room.id)]["capped"]) == (3, 3, True)


def test_the_api_returns_capped(cap3, make_room, member_of, api_as):
    room = make_room()
    reader = member_of(room)
    for i in range(4):
        services.message_post(actor=room.owner, room=room, content=f"m{i}")
    body = api_as(reader).get("/api/v1/unread").json()
    assert body["capped"] is True and body["total"] == 3
    assert body["rooms"] == [{"room_id": str(room.id), "unread": 3, "mentions": 0, "capped": True}]
