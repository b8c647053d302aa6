"""realtime.broadcast from synchronous code: the caller hands frames over
and goes on; the process's layer loop sends them to the real Redis layer in
the order they were broadcast."""

import asyncio
import threading
import time

import pytest
from channels.layers import get_channel_layer

from realtime import broadcast
from realtime.broadcast import flush_broadcasts, frame_of
from realtime.threads import executor


def _listen(group: str, count: int, ready: threading.Event, out: list) -> None:
    """Receive ``count`` frames of ``group`` on a loop and channel of this thread's own."""

    async def run():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        ready.set()
        for _ in range(count):
            out.append(frame_of(await asyncio.wait_for(layer.receive(channel), 20)))
        await layer.group_discard(group, channel)

    asyncio.run(run())


@pytest.mark.django_db(transaction=True)
def test_frames_broadcast_from_sync_code_arrive_in_their_order():
    group, count = f"test.handoff.{time.monotonic_ns()}", 300
    ready, received = threading.Event(), []
    listener = threading.Thread(target=_listen, args=(group, count, ready, received))
    listener.start()
    assert ready.wait(10)
    time.sleep(0.2)  # the subscription is confirmed by Redis
    for n in range(count):
        broadcast.broadcast([group], {"type": "test.frame", "n": n})  # no transaction: at once
    assert flush_broadcasts(10)
    listener.join(30)
    assert [f["n"] for f in received] == list(range(count))


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_does_not_wait_for_redis():
    # The layer loop is busy for a second: a caller hands its frame over all
    # the same and goes on (it used to wait for the send).
    loop = broadcast._layer_loop.get()
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)
    blocker = threading.Event()
    loop.call_soon_threadsafe(lambda: blocker.wait(1.0))
    started = time.monotonic()
    broadcast.broadcast([f"test.handoff.{time.monotonic_ns()}"], {"type": "test.frame"})
    handed_over = time.monotonic() - started
    blocker.set()
    assert flush_broadcasts(10)
    assert handed_over < 0.5


def test_flush_reports_a_backlog_that_did_not_drain():
    loop = broadcast._layer_loop.get()
    release = threading.Event()

    async def stuck():
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)

    broadcast._layer_loop.submit(stuck)
    try:
        assert flush_broadcasts(0.3) is False
    finally:
        release.set()
    assert flush_broadcasts(10) is True
    assert loop is broadcast._layer_loop.get()


@pytest.mark.parametrize("threads", [1, 7])
def test_socket_work_runs_on_ws_db_threads_threads(settings, threads, monkeypatch):
    import realtime.threads as module

    monkeypatch.setattr(module, "_pool", None)
    settings.WS_DB_THREADS = threads
    pool = executor()
    assert pool._max_workers == threads
    assert executor() is pool  # one per process
    monkeypatch.setattr(module, "_pool", None)
