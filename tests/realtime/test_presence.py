"""Presence (online/away/offline in Redis with a TTL), room online counts,
and online time per user per day, across tabs and after a crash."""

import asyncio
from datetime import date, datetime, timezone

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings

from accounts.models import OnlineTimeStat
from config.celery import app as celery_app
from realtime import presence
from tests.chatroom.live_helpers import HOST, ORIGIN, connect, cookie_header, frames_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


@pytest.fixture
def trio(make_room, member_of, make_user):
    """alice and bob share a room; eve shares none with them."""
    alice = make_user("alice")
    room = make_room(owner=alice, name="presence")
    bob = member_of(room, username="bob")
    eve = make_user("eve")
    return room, alice, bob, eve


async def presence_of(comm, user) -> dict:
    """The next presence frame about ``user`` (each socket also hears its own)."""
    while True:
        frame = await until(comm, "presence")
        if frame["user_id"] == str(user.id):
            return frame


def _stats(user):
    return list(OnlineTimeStat.objects.filter(user=user).order_by("date").values(
        "date", "total_seconds", "sessions_count"))


async def test_two_tabs_are_one_session_and_status_goes_to_shared_rooms_only(trio):
    room, alice, bob, eve = trio
    b, _ = await connect(bob)
    e, _ = await connect(eve)
    a1, ready = await connect(alice)
    online = await presence_of(b, alice)
    assert online == {"type": "presence", "user_id": str(alice.id), "status": "online",
                      "room_id": str(room.id), "online_count": 2}
    assert ready["rooms"][0]["online_count"] == 2  # bob and alice herself
    a2, _ = await connect(alice)
    a1_closed = a1.disconnect()
    await a1_closed
    # Alice is still online in her second tab: no status change is sent.
    assert [f for f in await frames_for(b, 0.6, skip=()) if f["type"] == "presence"] == []
    # She hides the tab: away.
    await a2.send_json_to({"type": "presence", "status": "away"})
    assert (await presence_of(b, alice))["status"] == "away"
    await a2.disconnect()
    offline = await presence_of(b, alice)
    assert offline["status"] == "offline" and offline["online_count"] == 1
    # eve shares no room with alice and heard nothing about her.
    assert [f for f in await frames_for(e, 0.3, skip=()) if f["type"] == "presence"
            and f["user_id"] == str(alice.id)] == []
    stats = await sync_to_async(_stats)(alice)
    assert len(stats) == 1 and stats[0]["sessions_count"] == 1 and 0 <= stats[0]["total_seconds"] <= 60
    assert await sync_to_async(presence.status_of)([alice.id]) == {str(alice.id): "offline"}
    await b.disconnect()
    await e.disconnect()


async def test_a_socket_whose_client_hung_up_as_a_frame_went_out_still_goes_offline(trio):
    """The closed-tab bug: a tab that closes sends "away", and the presence
    frame it causes comes back to its own socket just as the client is gone.
    The server's send then raises (uvicorn's ClientDisconnected); that must
    not end the consumer before its disconnect runs, or the tab stays away."""
    from channels.testing import WebsocketCommunicator
    from uvicorn.protocols.utils import ClientDisconnected

    from config.asgi import application

    room, alice, bob, _ = trio
    hung_up = asyncio.Event()

    async def server(scope, receive, send):
        async def send_to_client(message):
            if hung_up.is_set():
                raise ClientDisconnected()
            await send(message)

        await application(scope, receive, send_to_client)

    b, _ = await connect(bob)
    cookie = await sync_to_async(cookie_header)(alice)
    a = WebsocketCommunicator(server, "/ws/", headers=[HOST, ORIGIN, cookie])
    assert (await a.connect())[0]
    assert (await a.receive_json_from(timeout=5))["type"] == "ready"
    assert (await presence_of(b, alice))["status"] == "online"
    await a.send_json_to({"type": "presence", "status": "away"})
    assert (await presence_of(b, alice))["status"] == "away"
    hung_up.set()
    # Any frame for alice now meets a client that is gone (here: bob's typing).
    await b.send_json_to({"type": "typing", "room_id": str(room.id), "state": "start"})
    await asyncio.sleep(0.3)
    await a.disconnect(code=1001)
    assert (await presence_of(b, alice))["status"] == "offline"
    assert await sync_to_async(presence.status_of)([alice.id]) == {str(alice.id): "offline"}
    await b.disconnect()


def _ts(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@override_settings(PRESENCE_TTL_SECONDS=300)
def test_a_crashed_server_leaves_no_one_online_and_counts_to_the_last_heartbeat(trio):
    room, alice, bob, _ = trio
    t0 = _ts("2026-03-10T10:00:00")
    assert presence.update(alice.id, "conn-1", presence.ONLINE, now=t0) == "online"
    presence.update(alice.id, "conn-1", presence.ONLINE, now=t0 + 60)  # a heartbeat, then the server dies
    assert presence.sweep(now=t0 + 200) == 0  # within the TTL: still online
    assert presence.status_of([alice.id], now=t0 + 200)[str(alice.id)] == "online"
    assert presence.online_counts([room.id])[str(room.id)] == 1
    # Past the TTL she reads as offline even before a sweep ran...
    assert presence.status_of([alice.id], now=t0 + 60 + 301)[str(alice.id)] == "offline"
    # ...and the sweep ends her session and empties the room's count.
    assert presence.sweep(now=t0 + 60 + 301) == 1
    assert presence.status_of([alice.id], now=t0 + 60 + 301)[str(alice.id)] == "offline"
    assert presence.online_counts([room.id])[str(room.id)] == 0
    assert _stats(alice) == [{"date": date(2026, 3, 10), "total_seconds": 60, "sessions_count": 1}]


@override_settings(PRESENCE_TTL_SECONDS=300)
def test_reconnecting_after_a_crash_closes_the_old_session_first(trio):
    _, alice, _, _ = trio
    t0 = _ts("2026-03-10T10:00:00")
    presence.update(alice.id, "conn-1", presence.ONLINE, now=t0)
    presence.update(alice.id, "conn-1", presence.ONLINE, now=t0 + 120)
    # Crash; alice comes back on another server before the sweep ran.
    presence.update(alice.id, "conn-2", presence.ONLINE, now=t0 + 1000)
    presence.update(alice.id, "conn-2", presence.GONE, now=t0 + 1030)
    assert _stats(alice) == [{"date": date(2026, 3, 10), "total_seconds": 150, "sessions_count": 2}]


@override_settings(PRESENCE_TTL_SECONDS=300)
def test_a_session_over_midnight_is_split_between_the_days(trio):
    _, alice, _, _ = trio
    t0 = _ts("2026-03-10T23:59:30")
    presence.update(alice.id, "tab-a", presence.ONLINE, now=t0)
    presence.update(alice.id, "tab-b", presence.AWAY, now=t0 + 10)
    presence.update(alice.id, "tab-a", presence.GONE, now=t0 + 20)
    assert presence.status_of([alice.id], now=t0 + 20)[str(alice.id)] == "away"
    presence.update(alice.id, "tab-b", presence.GONE, now=t0 + 60)
    assert _stats(alice) == [
        {"date": date(2026, 3, 10), "total_seconds": 30, "sessions_count": 1},
        {"date": date(2026, 3, 11), "total_seconds": 30, "sessions_count": 0},
    ]


def test_the_sweep_is_a_beat_task():
    entry = settings.CELERY_BEAT_SCHEDULE["realtime-presence-sweep"]
    assert entry["task"] == "realtime.presence_sweep"
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert entry["task"] in celery_app.tasks
