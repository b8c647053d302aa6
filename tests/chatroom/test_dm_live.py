"""DMs over the socket (issue 16): a new DM reaches both people's open
sockets, messages, typing and reactions go live between them, resume
covers a DM, a blocked poster gets an ``error`` frame, and a third person
(staff included) gets nothing of it and errors for every frame."""

import pytest
from asgiref.sync import sync_to_async

from chatroom import services
from chatroom.models import UserBlock
from tests.chatroom.live_helpers import connect, frames_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


@pytest.fixture
def trio(make_room, member_of, make_user):
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    return alice, member_of(lobby, username="bob"), member_of(lobby, username="carol")


async def test_a_new_dm_goes_live_on_both_sockets(trio):
    alice, bob, _ = trio
    a, _ = await connect(alice)
    b, _ = await connect(bob)
    room, created = await sync_to_async(services.dm_open)(actor=alice, user_ids=[str(bob.id)])
    assert created
    assert (await until(b, "member.joined"))["room_id"] == str(room.id)
    await until(a, "member.joined")

    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "psst", "client_id": "d1"})
    ack = await until(a, "ack")
    got = {f["type"]: f for f in await frames_for(b, 1.0)}
    assert got["message.new"]["message"]["id"] == ack["message"]["id"]
    assert got["message.new"]["message"]["content"] == "psst"
    assert got["notification"]["notification"]["title"] == "alice sent you a message"

    await b.send_json_to({"type": "typing", "room_id": str(room.id), "state": "start"})
    typing = await until(a, "typing")
    assert typing["room_id"] == str(room.id) and typing["user"]["username"] == "bob"
    await b.send_json_to({"type": "reaction.add", "message_id": ack["message"]["id"], "emoji": "👀"})
    assert (await until(a, "reaction.updated"))["reactions"][0]["emoji"] == "👀"
    await a.disconnect()
    await b.disconnect()


async def test_ready_lists_dms_and_resume_covers_them(trio):
    alice, bob, _ = trio
    room, _ = await sync_to_async(services.dm_open)(actor=alice, user_ids=[str(bob.id)])
    posted = [await sync_to_async(services.message_post)(actor=alice, room=room, content=f"m{i}") for i in range(4)]
    b, ready = await connect(bob)
    dm = next(r for r in ready["rooms"] if r["id"] == str(room.id))
    assert dm["kind"] == "dm" and dm["unread"] == 4 and dm["mentions"] == 4
    await b.send_json_to({"type": "resume", "rooms": {str(room.id): posted[0].cursor}})
    got = [f["message"]["content"] for f in await frames_for(b, 1.5) if f["type"] == "message.new"]
    assert got == ["m1", "m2", "m3"]
    await b.disconnect()


async def test_a_blocked_poster_gets_an_error_frame(trio):
    alice, bob, _ = trio
    room, _ = await sync_to_async(services.dm_open)(actor=alice, user_ids=[str(bob.id)])
    await sync_to_async(UserBlock.objects.create)(blocker=bob, blocked=alice)
    a, _ = await connect(alice)
    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "hi", "client_id": "x1"})
    error = await until(a, "error")
    assert error["code"] == "blocked" and error["ref"] == "x1"
    await a.disconnect()


async def test_a_third_person_and_staff_get_nothing_of_a_dm(trio, make_user):
    alice, bob, carol = trio
    staff = await sync_to_async(make_user)("root", is_staff=True)
    room, _ = await sync_to_async(services.dm_open)(actor=alice, user_ids=[str(bob.id)])
    first = await sync_to_async(services.message_post)(actor=alice, room=room, content="private")
    for outsider in (carol, staff):
        c, ready = await connect(outsider)
        assert str(room.id) not in [r["id"] for r in ready["rooms"]]
        for frame in ({"type": "message.send", "room_id": str(room.id), "content": "hi", "client_id": "e1"},
                      {"type": "typing", "room_id": str(room.id), "state": "start"},
                      {"type": "read", "room_id": str(room.id), "message_id": str(first.id)},
                      {"type": "reaction.add", "message_id": str(first.id), "emoji": "👍"},
                      {"type": "resume", "rooms": {str(room.id): None}}):
            await c.send_json_to(frame)
            assert (await until(c, "error"))["code"] in ("permission_denied", "not_found")
        await sync_to_async(services.message_post)(actor=alice, room=room, content="still private")
        assert [f for f in await frames_for(c, 0.5) if f["type"] != "error"] == []
        await c.disconnect()
