"""Live chat across two real uvicorn processes sharing the Redis channel
layer, with a real WebSocket client (the ``websockets`` package): delivery
across processes, ack and dedupe, resume with no gap or duplicate while
messages keep arriving, a kicked member going deaf at once, and the auth
timeout and bad-token closes."""

import asyncio

import pytest
from django.db import connection

from chatroom.services import member_kick, room_create, room_join
from tests.e2e.live_client import Socket
from tests.e2e.live_client import cookie as _cookie
from tests.e2e.live_client import ws_url as _ws
from tests.processes import asgi_servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_two_processes_deliver_resume_and_enforce_membership(make_user, tmp_path):
    alice, bob = make_user("alice2p"), make_user("bob2p")
    room = room_create(owner=alice, name="two-servers")
    room_join(user=bob, room=room)
    rid = str(room.id)
    alice_cookie, bob_cookie = _cookie(alice), _cookie(bob)

    # The rate limit has its own test; here alice posts faster than it allows.
    with asgi_servers(2, tmp_path, CHAT_MESSAGE_RATE=1000) as (one, two):
        async def scenario():
            async with Socket(_ws(one), alice_cookie) as a, Socket(_ws(two), bob_cookie) as b:
                await a.wait(lambda: a.of("ready"))
                await b.wait(lambda: b.of("ready"))

                # Across processes, acked, and stored once when resent.
                await a.send({"type": "message.send", "room_id": rid, "content": "over there", "client_id": "k1"})
                await b.wait(lambda: b.of("message.new"))
                await a.wait(lambda: a.of("ack"))
                await a.send({"type": "message.send", "room_id": rid, "content": "over there", "client_id": "k1"})
                await a.wait(lambda: len(a.of("ack")) == 2)
                assert a.of("ack")[0]["message"]["id"] == a.of("ack")[1]["message"]["id"]
                await asyncio.sleep(0.5)
                assert [f["message"]["content"] for f in b.of("message.new")] == ["over there"]
                last_cursor = b.of("message.new")[-1]["message"]["cursor"]

            # Bob is offline while alice keeps posting; he comes back on the
            # other server in the middle of it and resumes from his cursor.
            total = 40
            async with Socket(_ws(one), alice_cookie) as a:
                await a.wait(lambda: a.of("ready"))

                async def post(start, stop):
                    for i in range(start, stop):
                        await a.send({"type": "message.send", "room_id": rid, "content": f"n{i}", "client_id": f"n{i}"})
                        await asyncio.sleep(0.03)

                await post(0, 15)
                async with Socket(_ws(one), bob_cookie) as b2:
                    await b2.wait(lambda: b2.of("ready"))
                    sender = asyncio.create_task(post(15, total))
                    await b2.send({"type": "resume", "rooms": {rid: last_cursor}})
                    await sender
                    await b2.wait(lambda: len(b2.of("message.new")) >= total, timeout=20)
                    await asyncio.sleep(0.5)  # anything extra would show up now
                    got = [f["message"]["content"] for f in b2.of("message.new")]
                    assert got == [f"n{i}" for i in range(total)]

        asyncio.run(scenario())

        # A kicked member's socket on the other process goes deaf at once.
        async def kicked():
            async with Socket(_ws(two), bob_cookie) as b, Socket(_ws(one), alice_cookie) as a:
                await b.wait(lambda: b.of("ready"))
                await a.wait(lambda: a.of("ready"))
                from asgiref.sync import sync_to_async

                def kick():
                    try:
                        member_kick(actor=alice, room=room, user=bob)
                    finally:
                        connection.close()  # this thread's; the test database is dropped after

                await sync_to_async(kick, thread_sensitive=False)()
                await b.wait(lambda: b.of("member.left"))
                before = len(b.of("message.new"))
                await a.send({"type": "message.send", "room_id": rid, "content": "after kick", "client_id": "ak"})
                await a.wait(lambda: a.of("ack"))
                await asyncio.sleep(1.0)
                assert len(b.of("message.new")) == before
                await b.send({"type": "message.send", "room_id": rid, "content": "let me in", "client_id": "b9"})
                await b.wait(lambda: b.of("error"))
                assert b.of("error")[-1]["code"] == "permission_denied"

        asyncio.run(kicked())

        # Without a cookie: an auth frame within 5 s, else 4408; a bad token is 4401.
        async def unauthenticated():
            async with Socket(_ws(one)) as s:
                await s.wait(lambda: s.reader.done() or s.ws.close_code is not None, timeout=10)
                assert s.ws.close_code == 4408
            async with Socket(_ws(two)) as s:
                await s.send({"type": "auth", "token": "not-a-real-token"})
                await s.wait(lambda: s.ws.close_code is not None, timeout=10)
                assert s.ws.close_code == 4401

        asyncio.run(unauthenticated())
