"""Threads over the socket (issue 16): a reply goes out as ``message.new``
with ``thread_id`` and ``thread.updated`` carries the new summary to the
room's members; ``thread.read`` marks a thread read; resume covers thread
replies with no gap and no duplicate; refusals are ``error`` frames."""

import pytest
from asgiref.sync import sync_to_async

from chatroom import services, thread_state
from tests.chatroom.live_helpers import connect, frames_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


@pytest.fixture
def trio(make_room, member_of, make_user):
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    return lobby, alice, member_of(lobby, username="bob"), member_of(lobby, username="carol")


async def test_a_reply_goes_live_with_its_summary_and_thread_read_clears_it(trio):
    room, alice, bob, carol = trio
    root = await sync_to_async(services.message_post)(actor=alice, room=room, content="root")
    a, _ = await connect(alice)
    b, _ = await connect(bob)
    c, _ = await connect(carol)
    for sock in (a, b, c):  # live at once, from the root on
        await sock.send_json_to({"type": "resume", "rooms": {str(room.id): root.cursor}})
    await b.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "in thread",
                          "thread_id": str(root.id), "client_id": "t1"})
    ack = await until(b, "ack")
    assert ack["message"]["thread_id"] == str(root.id) and ack["message"]["also_to_room"] is False
    for sock in (a, c):
        got = {f["type"]: f for f in await frames_for(sock, 1.0)}
        assert got["message.new"]["message"]["id"] == ack["message"]["id"]
        assert got["message.new"]["message"]["thread_id"] == str(root.id)
        updated = got["thread.updated"]
        assert updated == {"type": "thread.updated", "room_id": str(room.id), "root_id": str(root.id),
                           "reply_count": 1, "last_reply_at": ack["message"]["created_at"],
                           "participants": [str(bob.id)]}
    totals = await sync_to_async(thread_state.totals)(alice)
    assert totals == {"unread": 1, "mentions": 0}
    await a.send_json_to({"type": "thread.read", "root_id": str(root.id), "message_id": ack["message"]["id"]})
    echoed = await until(a, "thread.read")
    assert echoed["root_id"] == str(root.id) and echoed["message_id"] == ack["message"]["id"]
    assert await sync_to_async(thread_state.totals)(alice) == {"unread": 0, "mentions": 0}
    for sock in (a, b, c):
        await sock.disconnect()


async def test_refusals_are_error_frames(trio):
    room, alice, bob, _ = trio
    root = await sync_to_async(services.message_post)(actor=alice, room=room, content="root")
    reply = await sync_to_async(services.message_post)(actor=bob, room=room, content="r", thread_id=root.id)
    a, _ = await connect(alice)
    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "nested",
                          "thread_id": str(reply.id), "client_id": "n1"})
    error = await until(a, "error")
    assert error["code"] == "validation_error" and error["ref"] == "n1"
    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "x",
                          "thread_id": str(root.id), "also_to_room": "yes", "client_id": "n2"})
    assert (await until(a, "error"))["code"] == "validation_error"
    await a.send_json_to({"type": "thread.read", "root_id": "nope", "message_id": str(root.id)})
    assert (await until(a, "error"))["code"] in ("validation_error", "not_found")
    await a.disconnect()
    await sync_to_async(services.room_leave)(user=bob, room=room)
    b, _ = await connect(bob)
    await b.send_json_to({"type": "thread.read", "root_id": str(root.id), "message_id": str(reply.id)})
    assert (await until(b, "error"))["code"] == "not_found"
    await b.disconnect()


async def test_resume_covers_thread_replies_with_no_gap_and_no_duplicate(trio):
    room, alice, bob, _ = trio
    root = await sync_to_async(services.message_post)(actor=alice, room=room, content="root")
    posted = []
    for i in range(4):
        posted.append(await sync_to_async(services.message_post)(
            actor=bob, room=room, content=f"r{i}", thread_id=root.id if i % 2 == 0 else None))
    a, _ = await connect(alice)
    await a.send_json_to({"type": "resume", "rooms": {str(room.id): root.cursor}})
    got = [f["message"] for f in await frames_for(a, 1.5) if f["type"] == "message.new"]
    assert [m["content"] for m in got] == ["r0", "r1", "r2", "r3"]
    assert [m["thread_id"] for m in got] == [str(root.id), None, str(root.id), None]
    # A live reply after the resume arrives once.
    live = await sync_to_async(services.message_post)(actor=bob, room=room, content="live", thread_id=root.id)
    frames = [f for f in await frames_for(a, 1.0) if f["type"] == "message.new"]
    assert [f["message"]["id"] for f in frames] == [str(live.id)]
    await a.disconnect()


async def test_ready_carries_the_followed_threads_totals(trio):
    """A socket that connects learns the Threads badge at once, as GET
    /unread's ``threads``: a mention in a followed thread counts in both."""
    room, alice, bob, _ = trio
    root = await sync_to_async(services.message_post)(actor=alice, room=room, content="root")
    a, ready = await connect(alice)
    assert ready["threads"] == {"unread": 0, "mentions": 0}
    await a.disconnect()
    await sync_to_async(services.message_post)(actor=bob, room=room, content="one", thread_id=root.id)
    await sync_to_async(services.message_post)(actor=bob, room=room, content="hey @alice", thread_id=root.id)
    a, ready = await connect(alice)
    assert ready["threads"] == {"unread": 2, "mentions": 1}
    b, ready = await connect(bob)  # his own replies are read
    assert ready["threads"] == {"unread": 0, "mentions": 0}
    for sock in (a, b):
        await sock.disconnect()
