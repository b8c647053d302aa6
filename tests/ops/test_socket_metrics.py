"""The socket's counts reach /metrics: open sockets, frames in and out by
type (a client cannot mint types), messages posted, fan-out latency."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from chatroom.services import message_post
from ops import counters
from tests.chatroom.live_helpers import connect, frames_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_sockets_frames_messages_and_fanout_are_counted(make_user):
    from chatroom.services.rooms import room_create

    alice = await sync_to_async(make_user)("alice")
    room = await sync_to_async(room_create)(owner=alice, name="counted")
    before = {
        "open": value("teamhub_sockets_open"),
        "ping": value("teamhub_ws_frames_total", direction="in", type="ping"),
        "other": value("teamhub_ws_frames_total", direction="in", type="other"),
        "pong": value("teamhub_ws_frames_total", direction="out", type="pong"),
        "new": value("teamhub_ws_frames_total", direction="out", type="message.new"),
        "posted": value("teamhub_messages_posted_total"),
        "fanout": value("teamhub_fanout_latency_seconds_count"),
    }
    sockets_before = counters.sockets_open()

    comm, _ = await connect(alice)
    assert value("teamhub_sockets_open") == before["open"] + 1 and counters.sockets_open() == sockets_before + 1
    await comm.send_json_to({"type": "ping"})
    await until(comm, "pong")
    await comm.send_json_to({"type": "made.up.by.the.client"})
    await until(comm, "error")
    # No resume: after its grace the room starts from the database; the next message is live.
    await frames_for(comm, 2.5)
    await sync_to_async(message_post)(actor=alice, room=room, content="count me")
    got = await until(comm, "message.new")
    assert got["message"]["content"] == "count me"
    await comm.disconnect()

    assert value("teamhub_sockets_open") == before["open"] and counters.sockets_open() == sockets_before
    assert value("teamhub_ws_frames_total", direction="in", type="ping") == before["ping"] + 1
    assert value("teamhub_ws_frames_total", direction="in", type="other") == before["other"] + 1
    assert value("teamhub_ws_frames_total", direction="in", type="made.up.by.the.client") == 0
    assert value("teamhub_ws_frames_total", direction="out", type="pong") == before["pong"] + 1
    assert value("teamhub_ws_frames_total", direction="out", type="message.new") >= before["new"] + 1
    assert value("teamhub_messages_posted_total") == before["posted"] + 1
    assert value("teamhub_fanout_latency_seconds_count") == before["fanout"] + 1
    assert value("teamhub_fanout_latency_seconds_sum") < 60
