import asyncio

from channels.layers import get_channel_layer


async def test_an_idle_receiver_outlives_the_redis_read_timeout():
    """A consumer waits on the layer for longer than redis-py's default 5 s
    socket read timeout; the subscription must survive it."""
    layer = get_channel_layer()
    channel = await layer.new_channel("idle.")
    receiver = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(7)
    assert not receiver.done() or receiver.exception() is None
    await layer.send(channel, {"type": "late.message"})
    message = await asyncio.wait_for(receiver, 10)
    assert message == {"type": "late.message"}


async def test_hundreds_of_concurrent_group_operations_all_succeed():
    """A server process with hundreds of busy sockets joins groups and
    broadcasts concurrently; redis-py's default pool cap (100) would fail
    some of those calls outright, losing frames."""
    layer = get_channel_layer()
    channels = [await layer.new_channel("many.") for _ in range(300)]
    await asyncio.gather(*[layer.group_add(f"many-{i % 3}", ch) for i, ch in enumerate(channels)])
    await asyncio.gather(*[layer.group_send(f"many-{i % 3}", {"type": "hello", "n": i}) for i in range(300)])
    received = await asyncio.gather(*[asyncio.wait_for(layer.receive(ch), 10) for ch in channels])
    assert all(m["type"] == "hello" for m in received)
    await asyncio.gather(*[layer.group_discard(f"many-{i % 3}", ch) for i, ch in enumerate(channels)])
