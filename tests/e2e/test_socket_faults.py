"""The socket rides out real faults on a real uvicorn process: its database
connections terminated under it (pg_terminate_backend on the backends the
server's threads hold, found by their application_name), the database
refusing connections for a while, and its Redis (a throwaway one) stopped
and started again. Nothing is lost and the socket never dies with 1006."""

import asyncio
import time
import uuid

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from chatroom.models import Message
from chatroom.services import message_post, room_create, room_join
from tests.e2e.live_client import Socket, cookie, ws_url
from tests.processes import asgi_servers
from tests.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def _admin(statement, params=()):
    """One statement from the maintenance database (so it works while the
    test database refuses connections), in a thread: the scenario runs in an
    event loop, where Django refuses database calls."""
    db = connection.settings_dict

    def run():
        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db.get("PASSWORD") or None,
                             dbname="postgres", autocommit=True) as conn:
            cursor = conn.execute(statement, params or None)
            return cursor.fetchall() if cursor.description else None

    return asyncio.to_thread(run)


def _terminate(application_name: str):
    """pg_terminate_backend for every backend of the server under test,
    found by the application_name its process was given (PGAPPNAME)."""
    return _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                  [application_name])


def _allow_connections(allowed: bool):
    """Open or close the test database to new connections (existing ones stay)."""
    return _admin(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
        sql.Identifier(connection.settings_dict["NAME"]), sql.SQL("true" if allowed else "false")))


async def _reply(sock: Socket, client_id: str, timeout: float = 15) -> dict:
    """The ack or error that answers the message.send with this client_id."""
    def answer():
        return next((f for f in sock.frames if (f["type"] == "ack" and f["client_id"] == client_id)
                     or (f["type"] == "error" and f.get("ref") == client_id)), None)

    await sock.wait(answer, timeout)
    found = answer()
    sock.frames.remove(found)
    return found


def test_the_socket_rides_out_its_database_connections_being_dropped(make_user, tmp_path):
    user = make_user("db-drop")
    room = room_create(owner=user, name="db-drop")
    rid = str(room.id)
    app = f"teamhub-test-{uuid.uuid4().hex[:12]}"
    user_cookie = cookie(user)

    # The server runs with the default connection pool (the test process runs
    # without one): its connections outlive each frame, as in production.
    env = {"DB_APPLICATION_NAME": app, "CHAT_MESSAGE_RATE": 1000, "WS_FRAME_RATE": 1000}
    with asgi_servers(1, tmp_path, **env) as (base,):
        async def scenario():
            async with Socket(ws_url(base), user_cookie) as s:
                await s.wait(lambda: s.of("ready"))

                async def send(client_id):
                    await s.send({"type": "message.send", "room_id": rid, "content": client_id,
                                  "client_id": client_id})
                    return await _reply(s, client_id)

                for i in range(8):  # several worker threads, each with its connection
                    assert (await send(f"warm-{i}"))["type"] == "ack"
                terminated = await _terminate(app)
                assert terminated and all(row[0] for row in terminated)

                # The next frames reconnect: each is acked, none is lost.
                for i in range(8):
                    reply = await send(f"after-{i}")
                    assert reply["type"] == "ack", reply

                # The database refuses connections: every frame is answered
                # with service_unavailable and a retry_after, and the socket stays.
                await _allow_connections(False)
                try:
                    await _terminate(app)
                    for i in range(3):
                        reply = await send(f"down-{i}")
                        assert reply["type"] == "error" and reply["code"] == "service_unavailable", reply
                        assert isinstance(reply["retry_after"], (int, float)) and reply["retry_after"] > 0
                    await s.send({"type": "ping"})
                    await s.wait(lambda: s.of("pong"))
                finally:
                    await _allow_connections(True)

                # Back: the same client ids again (as a client retries) are stored once.
                for i in range(3):
                    reply = await send(f"down-{i}")
                    assert reply["type"] == "ack", reply
                    assert (await send(f"down-{i}"))["message"]["id"] == reply["message"]["id"]
                assert s.close_code is None

        asyncio.run(scenario())
        log = "".join(p.read_text() for p in tmp_path.glob("asgi-*.log"))

    stored = sorted(Message.objects.filter(room=room, message_type="text").values_list("content", flat=True))
    assert stored == sorted([f"warm-{i}" for i in range(8)] + [f"after-{i}" for i in range(8)]
                            + [f"down-{i}" for i in range(3)])
    assert "Exception in ASGI application" not in log


def test_redis_down_closes_sockets_with_1013_and_they_come_back_without_loss(make_user, tmp_path):
    alice, bob = make_user("redis-alice"), make_user("redis-bob")
    room = room_create(owner=alice, name="redis-down")
    room_join(user=bob, room=room)
    rid = str(room.id)
    alice_cookie, bob_cookie = cookie(alice), cookie(bob)
    redis = ThrowawayRedis(tmp_path).start()
    # Beats every second, so an idle socket notices the outage quickly.
    env = {"REDIS_URL": redis.url, "PRESENCE_HEARTBEAT_SECONDS": 1, "PRESENCE_TTL_SECONDS": 10}
    timings = {}
    try:
        with asgi_servers(1, tmp_path, **env) as (base,):
            async def scenario():
                url = ws_url(base)
                async with Socket(url, alice_cookie) as a, Socket(url, bob_cookie) as b:
                    await a.wait(lambda: a.of("ready"))
                    await b.wait(lambda: b.of("ready"))
                    await a.send({"type": "message.send", "room_id": rid, "content": "before", "client_id": "b1"})
                    await b.wait(lambda: b.of("message.new"))
                    cursor = b.of("message.new")[-1]["message"]["cursor"]

                    redis.stop()
                    # A frame that needs Redis is answered, then the socket closes 1013.
                    await a.send({"type": "typing", "room_id": rid, "state": "start"})
                    for sock in (a, b):  # bob is idle: his heartbeat finds out
                        await sock.wait(lambda: sock.close_code is not None, timeout=20)
                        assert sock.close_code == 1013
                        error = sock.of("error")[-1]
                        assert error["code"] == "service_unavailable" and error["retry_after"] > 0

                # While Redis is down a message arrives through another face.
                await asyncio.to_thread(_post_and_close, alice, room, "during the outage")
                # A new socket is answered the same way, at the handshake.
                async with Socket(url, bob_cookie) as b:
                    await b.wait(lambda: b.close_code is not None)
                    assert b.close_code == 1013 and b.of("error")[-1]["code"] == "service_unavailable"

                redis.start()
                started = time.monotonic()
                # The client reconnects until it is ready again, and resumes.
                while True:
                    async with Socket(url, bob_cookie) as b:
                        await b.wait(lambda: b.of("ready") or b.close_code is not None)
                        if not b.of("ready"):
                            await asyncio.sleep(0.2)
                            continue
                        timings["ready"] = time.monotonic() - started
                        await b.send({"type": "resume", "rooms": {rid: cursor}})
                        await b.wait(lambda: b.of("message.new"))
                        assert [f["message"]["content"] for f in b.of("message.new")] == ["during the outage"]
                        # And live delivery works again, across the channel layer.
                        async with Socket(url, alice_cookie) as a:
                            await a.wait(lambda: a.of("ready"))
                            await a.send({"type": "message.send", "room_id": rid, "content": "after",
                                          "client_id": "a1"})
                            await b.wait(lambda: len(b.of("message.new")) == 2)
                            assert b.of("message.new")[-1]["message"]["content"] == "after"
                        break

            asyncio.run(asyncio.wait_for(scenario(), 120))
            log = "".join(p.read_text() for p in tmp_path.glob("asgi-*.log"))
    finally:
        redis.stop()
    assert "Exception in ASGI application" not in log
    print(f"ready again {timings['ready']:.2f} s after Redis started")


def _post_and_close(user, room, content):
    try:
        message_post(actor=user, room=room, content=content)
    finally:
        connection.close()
