"""A socket that is gone is gone from presence within about a minute,
however it went, with the real default timings (PRESENCE_HEARTBEAT_SECONDS,
PRESENCE_TTL_SECONDS, PRESENCE_SWEEP_SECONDS) and uvicorn's default
WebSocket pings: its server process SIGKILLed (its sockets stop beating;
another process's sweep ends them), or a mobile client vanishing without a
close frame (uvicorn's unanswered ping closes it). The other members see
``presence offline`` live. (A closed browser page goes offline at once:
tests/e2e/test_presence_browser.py.)"""

import asyncio
import os
import signal
import time

import pytest

from accounts.services import api_login
from chatroom.services import room_create, room_join
from realtime import presence
from tests.e2e.live_client import Socket, cookie, ws_url
from tests.processes import asgi_servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

DEADLINE_SECONDS = 90  # functional: "about a minute", with room for a loaded machine


def test_a_killed_servers_sockets_and_a_vanished_client_go_offline(make_user, tmp_path):
    alice, bob, carol = make_user("gone-alice"), make_user("gone-bob"), make_user("gone-carol")
    room = room_create(owner=alice, name="gone")
    for user in (bob, carol):
        room_join(user=user, room=room)
    alice_cookie, bob_cookie = cookie(alice), cookie(bob)
    carol_token = api_login(user=carol, device_name="phone")[1]
    gone_after = {}

    with asgi_servers(2, tmp_path) as servers:
        doomed, survivor = servers
        async def scenario():
            # alice watches from the server that survives; bob is on the one
            # that will be killed; carol (a phone) vanishes from the survivor.
            async with Socket(ws_url(survivor), alice_cookie) as a, Socket(ws_url(doomed), bob_cookie) as b, \
                    Socket(ws_url(survivor), ping_interval=None) as c:
                await c.send({"type": "auth", "token": carol_token})
                for sock in (a, b, c):
                    await sock.wait(lambda: sock.of("ready"))
                online = await asyncio.to_thread(presence.status_of, [bob.id, carol.id])
                assert online == {str(bob.id): "online", str(carol.id): "online"}

                def offline(user):
                    return any(f["user_id"] == str(user.id) and f["status"] == "offline" for f in a.of("presence"))

                started = time.monotonic()
                os.killpg(servers.procs[0].pid, signal.SIGKILL)
                c.ws.transport.pause_reading()  # no close frame, no more pongs

                async def gone(user):
                    await a.wait(lambda: offline(user), timeout=DEADLINE_SECONDS)
                    gone_after[user.username] = time.monotonic() - started

                await asyncio.gather(gone(bob), gone(carol))
                assert await asyncio.to_thread(presence.status_of, [bob.id, carol.id]) == {
                    str(bob.id): "offline", str(carol.id): "offline"}
                assert a.close_code is None

        asyncio.run(scenario())
    print(f"offline after: killed server's socket {gone_after['gone-bob']:.1f} s, "
          f"vanished client {gone_after['gone-carol']:.1f} s")


def test_a_restarting_servers_sockets_go_offline_at_once(make_user, tmp_path):
    """SIGTERM (a deploy's restart): uvicorn closes its sockets with 1012 and
    each one's end runs before the process exits."""
    from tests.processes import stop

    alice, bob = make_user("restart-alice"), make_user("restart-bob")
    room = room_create(owner=alice, name="restart")
    room_join(user=bob, room=room)
    alice_cookie, bob_cookie = cookie(alice), cookie(bob)

    with asgi_servers(2, tmp_path) as servers:
        restarting, staying = servers

        async def scenario():
            async with Socket(ws_url(staying), alice_cookie) as a, Socket(ws_url(restarting), bob_cookie) as b:
                for sock in (a, b):
                    await sock.wait(lambda: sock.of("ready"))
                await asyncio.to_thread(stop, servers.procs[0])
                assert b.close_code == 1012
                # Already offline when the process has exited: no sweep needed.
                assert await asyncio.to_thread(presence.status_of, [bob.id]) == {str(bob.id): "offline"}
                await a.wait(lambda: any(f["user_id"] == str(bob.id) and f["status"] == "offline"
                                         for f in a.of("presence")), timeout=10)

        asyncio.run(scenario())
