"""Listening to channel-layer groups from synchronous tests.

The channel layer is Redis pub/sub: an event reaches only subscribers that
are listening when it is published, on the event loop they subscribed from.
A synchronous test (whose every async_to_sync call gets a fresh loop) cannot
subscribe in one call and receive in the next, so this listener keeps one
loop, in a thread of its own, subscribed for the length of a ``with``."""

from __future__ import annotations

import asyncio
import threading
import time

from channels.layers import get_channel_layer

from realtime import broadcast

_PING = "listener.ping"


class GroupListener:
    def __init__(self, *groups: str):
        self.groups = groups
        self.events: list[dict] = []
        self._ready = threading.Event()
        self._loop = None
        self._stop = None

    def __enter__(self) -> GroupListener:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the listener did not subscribe")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    async def _run(self) -> None:
        layer = get_channel_layer()
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        channel = await layer.new_channel("listener.")
        for group in self.groups:
            await layer.group_add(group, channel)
        # A round trip through the last group proves the subscriptions are live.
        await layer.group_send(self.groups[-1], {"type": _PING})
        stop = asyncio.ensure_future(self._stop.wait())
        while True:
            receive = asyncio.ensure_future(layer.receive(channel))
            done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                try:
                    await receive
                except asyncio.CancelledError:
                    pass
                return
            event = receive.result()
            if event.get("type") == _PING:
                self._ready.set()
            else:
                self.events.append(event)

    def frames(self, settle: float = 1.0) -> list[dict]:
        """The client frames received so far, after ``settle`` seconds for
        late arrivals."""
        time.sleep(settle)
        return [broadcast.frame_of(e) for e in list(self.events)]

    def clear(self) -> None:
        self.events.clear()
