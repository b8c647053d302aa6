import asyncio

from channels.layers import get_channel_layer


async def test_an_idle_receiver_outlives_the_blocking_pop_timeout():
    """A consumer waits on the layer for longer than channels-redis's 5 s
    BZPOPMIN; the Redis client must not time the read out underneath it."""
    layer = get_channel_layer()
    channel = await layer.new_channel("idle.")
    receiver = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(layer.brpop_timeout + 2)
    assert not receiver.done() or receiver.exception() is None
    await layer.send(channel, {"type": "late.message"})
    message = await asyncio.wait_for(receiver, 10)
    assert message == {"type": "late.message"}
