"""realtime.behind through the real socket stack (ASGI app, channel layer
on Redis, PostgreSQL): a socket whose queue overflowed, or whose process
lost its Redis subscription, catches up from the database at once and the
client gets every message once, in order."""

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings

from realtime import consumers
from chatroom.services import message_post, room_create, room_join
from realtime.layer import overload_counts
from tests.chatroom.live_helpers import connect, frames_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]

CLIENT_NAME = f"fo-behind-test-{uuid.uuid4().hex[:10]}"


def _layers(queue_max: int) -> dict:
    """The project's layer, small enough to overflow, its connections named
    so a test can kill its own subscription."""
    return {"default": {"BACKEND": "realtime.layer.BoundedPubSubChannelLayer", "CONFIG": {
        "queue_max": queue_max, "prefix": f"{settings.REDIS_KEY_PREFIX}:asgi-behind",
        "hosts": [{"address": settings.REDIS_URL, "client_name": CLIENT_NAME}]}}}


@pytest.fixture
def room_pair(make_user):
    alice, bob = make_user("behind-alice"), make_user("behind-bob")
    room = room_create(owner=alice, name="behind")
    room_join(user=bob, room=room)
    return room, alice, bob


async def _live(user, room):
    """A socket whose room delivers live at once (it resumed from ready's cursor)."""
    sock, ready = await connect(user)
    await sock.send_json_to({"type": "resume", "rooms": {str(room.id): ready["rooms"][0]["cursor"]}})
    return sock


async def _post(alice, room, contents):
    for content in contents:
        await sync_to_async(message_post)(actor=alice, room=room, content=content)


async def _eventually(predicate, timeout=15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _contents(frames):
    return [f["message"]["content"] for f in frames if f["type"] == "message.new"]


@override_settings(CHANNEL_LAYERS=_layers(queue_max=5))
async def test_a_socket_that_overflows_catches_up_with_no_gap_and_no_duplicate(room_pair, monkeypatch):
    room, alice, bob = room_pair
    b = await _live(bob, room)
    # Hold bob's dispatch at his first message, as a busy process would.
    held = asyncio.Event()
    relay = consumers.ClientConsumer.client_frame

    async def slow_client_frame(self, event):
        if event["kind"] == "message.new":
            await held.wait()
        await relay(self, event)

    monkeypatch.setattr(consumers.ClientConsumer, "client_frame", slow_client_frame)
    before = overload_counts()
    await _post(alice, room, [f"m{i}" for i in range(20)])
    await _eventually(lambda: overload_counts()["behind"] > before["behind"])
    held.set()
    # All of them at once, from the database (with nothing posted after
    # them, no later message's previous cursor would have shown the gap).
    assert _contents(await frames_for(b, 1.0)) == [f"m{i}" for i in range(20)]
    await _post(alice, room, [f"m{i}" for i in range(20, 25)])
    assert _contents(await frames_for(b, 1.0)) == [f"m{i}" for i in range(20, 25)]
    await b.disconnect()


async def _kill_subscription() -> None:
    admin = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        ids = [c["id"] for c in await admin.client_list() if c.get("name") == CLIENT_NAME and "P" in c["flags"]]
        assert ids, "the test's pub/sub connection was not found"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()


@override_settings(CHANNEL_LAYERS=_layers(queue_max=1000))
async def test_a_lost_subscription_sends_the_socket_to_the_database(room_pair):
    room, alice, bob = room_pair
    b = await _live(bob, room)
    await _post(alice, room, ["before"])
    assert _contents(await frames_for(b, 1.0)) == ["before"]
    before = overload_counts()

    await _kill_subscription()
    await _post(alice, room, ["during 1", "during 2"])  # published while nobody listened
    await _eventually(lambda: overload_counts()["resubscribed"] > before["resubscribed"])
    # From the database, without waiting for a later message to show the gap.
    assert _contents(await frames_for(b, 1.0)) == ["during 1", "during 2"]
    await _post(alice, room, ["after"])
    assert _contents(await frames_for(b, 1.0)) == ["after"]
    await b.disconnect()
