"""realtime.guarded_socket.dispatch_one_at_a_time, the socket's own loop in
place of Channels' await_many_dispatch, and the layer's forget_channel on a
real Redis."""

import asyncio
import uuid

import pytest
from channels.exceptions import StopConsumer
from django.conf import settings

from realtime.guarded_socket import dispatch_one_at_a_time
from realtime.layer import BoundedPubSubChannelLayer


def _source(items):
    queue: asyncio.Queue = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    return queue, queue.get


async def test_messages_are_dispatched_one_at_a_time_in_each_sources_order():
    client, receive_client = _source([("c", n) for n in range(50)])
    layer, receive_layer = _source([("l", n) for n in range(50)])
    running, seen, most = 0, [], 0

    async def dispatch(message):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)  # a handler that awaits: another must not start meanwhile
        seen.append(message)
        running -= 1
        if len(seen) == 100:
            raise StopConsumer

    with pytest.raises(StopConsumer):
        await asyncio.wait_for(dispatch_one_at_a_time([receive_client, receive_layer], dispatch), 10)
    assert most == 1
    assert [n for s, n in seen if s == "c"] == list(range(50))
    assert [n for s, n in seen if s == "l"] == list(range(50))


async def test_nothing_is_dispatched_after_the_dispatch_that_ended_the_consumer():
    _client, receive_client = _source(["disconnect"])
    _layer, receive_layer = _source(["late"] * 5)
    seen = []

    async def dispatch(message):
        seen.append(message)
        if message == "disconnect":
            raise StopConsumer
        await asyncio.sleep(0.2)  # the disconnect arrives while this event is handled, and waits its turn

    async def slow_client():
        await asyncio.sleep(0.05)
        return await receive_client()

    with pytest.raises(StopConsumer):
        await asyncio.wait_for(dispatch_one_at_a_time([slow_client, receive_layer], dispatch), 10)
    await asyncio.sleep(0.3)
    # The next "late" was already waiting behind the disconnect; it is dropped.
    assert seen == ["late", "disconnect"]


async def test_a_failing_source_ends_the_loop_with_its_error():
    async def broken():
        raise ConnectionError("redis away")

    never = asyncio.Event()

    async def quiet():
        await never.wait()

    async def dispatch(message):
        raise AssertionError("nothing to dispatch")

    with pytest.raises(ConnectionError):
        await asyncio.wait_for(dispatch_one_at_a_time([quiet, broken], dispatch), 10)


async def test_forget_channel_unsubscribes_a_channel_whose_consumer_ended():
    name = f"dispatch-test-{uuid.uuid4().hex[:10]}"
    layer = BoundedPubSubChannelLayer(hosts=[{"address": settings.REDIS_URL}],
                                      prefix=f"{settings.REDIS_KEY_PREFIX}:{name}")
    channel = await layer.new_channel("s.")
    await layer.group_add("room", channel)
    await layer.group_send("room", {"type": "ev", "n": 1})
    assert (await asyncio.wait_for(layer.receive(channel), 10))["n"] == 1
    loop_layer = layer._get_layer()
    assert channel in loop_layer.channels
    await layer.forget_channel(channel)
    assert channel not in loop_layer.channels
    await layer.forget_channel(channel)  # a second call (the library cleaned up first) is harmless
    await layer.flush()
