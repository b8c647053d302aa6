"""The channel layer's overload hook: ``{"type": "realtime.behind"}`` sent to a
socket's channel says it may have missed group messages (a queue overflowed,
or the Redis subscription was lost). The socket catches its rooms up from
the database at once, through the real ASGI stack, channel layer and
PostgreSQL, with no gap and no duplicate."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django_redis import get_redis_connection

from chatroom import services
from realtime import broadcast, consumers, presence
from tests.chatroom.live_helpers import connect, frames_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


def _channel_of(user) -> str:
    """The channel of the user's one open socket: its presence connection."""
    (channel,) = get_redis_connection("default").hkeys(presence._key("conns", user.id))
    return channel.decode()


def _post_unheard(monkeypatch, room, user, content):
    """Post through the service, with its message.new never broadcast: the
    group message the channel layer lost."""
    real = broadcast.broadcast

    def drop_messages(groups, frame, **meta):
        if frame["type"] != "message.new":
            real(groups, frame, **meta)

    with monkeypatch.context() as patch:
        patch.setattr(broadcast, "broadcast", drop_messages)
        return services.message_post(actor=user, room=room, content=content)


async def test_behind_catches_up_from_the_database_at_once(pair, monkeypatch):
    room, alice, bob = pair
    b, ready = await connect(bob)
    # Resume from ready's cursor (the pong says it was handled): the room
    # delivers live from here.
    await b.send_json_to({"type": "resume", "rooms": {str(room.id): ready["rooms"][0]["cursor"]}})
    await b.send_json_to({"type": "ping"})
    await until(b, "pong")
    await sync_to_async(_post_unheard)(monkeypatch, room, alice, "lost")
    # Nothing arrives: no later message reveals the gap, and the heads check
    # is 30 to 60 s away (and leaves messages younger than 10 s alone).
    assert [f for f in await frames_for(b, 0.5) if f["type"] == "message.new"] == []

    await get_channel_layer().send(await sync_to_async(_channel_of)(bob), {"type": "realtime.behind"})
    assert (await until(b, "message.new"))["message"]["content"] == "lost"

    await sync_to_async(services.message_post)(actor=alice, room=room, content="next")
    got = [f["message"]["content"] for f in await frames_for(b, 1.0) if f["type"] == "message.new"]
    assert got == ["next"]  # in order after it, and "lost" not again
    await b.disconnect()


async def test_behind_before_any_room_is_live_waits_for_the_resume(pair, monkeypatch):
    """Rooms still waiting for the client's resume read the database when it
    comes; behind sends nothing twice."""
    room, alice, bob = pair
    monkeypatch.setattr(consumers, "RESUME_GRACE_SECONDS", 60)  # the room waits for this test's resume
    b, ready = await connect(bob)
    await sync_to_async(_post_unheard)(monkeypatch, room, alice, "lost")
    await get_channel_layer().send(await sync_to_async(_channel_of)(bob), {"type": "realtime.behind"})
    assert [f for f in await frames_for(b, 0.3) if f["type"] == "message.new"] == []
    await b.send_json_to({"type": "resume", "rooms": {str(room.id): ready["rooms"][0]["cursor"]}})
    got = [f["message"]["content"] for f in await frames_for(b, 1.0) if f["type"] == "message.new"]
    assert got == ["lost"]
    await b.disconnect()
