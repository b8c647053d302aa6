"""realtime.layer on a real Redis: per-group order, a bounded queue that
ends in one realtime.behind, and realtime.behind after the process's Redis
subscription was lost (its connection killed, or Redis restarted)."""

import asyncio
import logging
import uuid

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from realtime.layer import BEHIND, BoundedPubSubChannelLayer, overload_counts
from tests.redis_server import ThrowawayRedis


def _layer(url=None, **config) -> BoundedPubSubChannelLayer:
    name = f"fo-layer-test-{uuid.uuid4().hex[:10]}"
    host = {"address": url or settings.REDIS_URL, "client_name": name}
    layer = BoundedPubSubChannelLayer(hosts=[host], prefix=f"{settings.REDIS_KEY_PREFIX}:{name}", **config)
    layer.client_name = name
    return layer


async def _eventually(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _receive(layer, channel, timeout=10.0) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def _kill_subscription(client_name: str) -> None:
    """Kill this layer's pub/sub connection (only it) on the shared Redis."""
    admin = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c.get("name") == client_name and "P" in c.get("flags", "")]
        assert ids, "no pub/sub connection of this layer found"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()


async def test_each_channel_gets_its_groups_events_in_order():
    layer = _layer()
    first, second = await layer.new_channel("a."), await layer.new_channel("b.")
    for channel in (first, second):
        await layer.group_add("one", channel)
    await layer.group_add("two", second)
    for n in range(300):
        await layer.group_send("one" if n % 3 else "two", {"type": "ev", "n": n})
    got_first = [(await _receive(layer, first))["n"] for _ in range(200)]
    got_second = [(await _receive(layer, second))["n"] for _ in range(300)]
    assert got_first == [n for n in range(300) if n % 3]
    assert got_second == list(range(300))
    await layer.flush()


async def test_a_channel_over_its_bound_gets_what_fitted_then_one_behind_then_live_again(caplog):
    layer = _layer(queue_max=5)
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    before = overload_counts()
    with caplog.at_level(logging.WARNING, logger="realtime.layer"):
        for n in range(12):
            await layer.group_send("room", {"type": "ev", "n": n})
        await _eventually(lambda: overload_counts()["dropped"] - before["dropped"] == 7)
        # Nothing more is queued while it is behind, however much comes.
        await layer.send(channel, {"type": "ev", "n": "direct"})
        await _eventually(lambda: overload_counts()["dropped"] - before["dropped"] == 8)

        got = [await _receive(layer, channel) for _ in range(6)]
        assert got == [{"type": "ev", "n": n} for n in range(5)] + [BEHIND]
        # Taken: what arrives from now on is queued again.
        await layer.group_send("room", {"type": "ev", "n": "after"})
        assert await _receive(layer, channel) == {"type": "ev", "n": "after"}
    after = overload_counts()
    assert after["behind"] - before["behind"] == 1
    lines = [r for r in caplog.records if r.name == "realtime.layer" and r.levelno == logging.WARNING]
    assert any("fell behind" in r.getMessage() for r in lines)
    await layer.flush()


async def test_a_lost_subscription_gives_every_channel_behind_once_redis_has_it_again():
    layer = _layer()
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("room", channel)
    await layer.group_send("room", {"type": "ev", "n": "before"})
    for channel in channels:
        assert await _receive(layer, channel) == {"type": "ev", "n": "before"}
    before = overload_counts()

    await _kill_subscription(layer.client_name)
    await layer.group_send("room", {"type": "ev", "n": "missed"})  # nobody is subscribed now
    for channel in channels:
        assert await _receive(layer, channel) == BEHIND
    after = overload_counts()
    assert after["resubscribed"] - before["resubscribed"] == 1
    assert after["resync_behind"] - before["resync_behind"] == 3
    # Subscribed again: live events flow.
    await layer.group_send("room", {"type": "ev", "n": "after"})
    for channel in channels:
        assert await _receive(layer, channel) == {"type": "ev", "n": "after"}
    await layer.flush()


async def test_redis_restarted_gives_behind_and_the_layer_works_again(tmp_path):
    redis = ThrowawayRedis(tmp_path).start()
    try:
        layer = _layer(redis.url)
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "ev", "n": 1})
        assert await _receive(layer, channel) == {"type": "ev", "n": 1}

        redis.stop()
        with pytest.raises(Exception):  # noqa: B017 - redis-py's connection error, or an OSError
            await layer.group_send("room", {"type": "ev", "n": 2})
        await asyncio.sleep(1)
        redis.start()
        assert await _receive(layer, channel, timeout=20) == BEHIND
        await layer.group_send("room", {"type": "ev", "n": 3})
        assert await _receive(layer, channel) == {"type": "ev", "n": 3}
        await layer.flush()
    finally:
        redis.stop()


async def test_the_readiness_probe_leaves_no_channel_behind():
    """/readyz's round trip runs on the serving process's event loop; each
    probe used to leave its channel (a Redis subscription and a queue) there."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from config import health

    layer = get_channel_layer()
    await layer.new_channel("warm.")  # this loop's layer exists
    before = len(layer._get_layer().channels)
    for _ in range(3):
        await sync_to_async(health._check_channel_layer)()  # on this loop, as in a server
    assert len(layer._get_layer().channels) == before
