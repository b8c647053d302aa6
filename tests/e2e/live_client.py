"""A real WebSocket client (the ``websockets`` package) for end-to-end tests
against uvicorn processes: it keeps every frame it receives, by type."""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.browser import session_for


def cookie(user) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={session_for(user)}"


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws/"


class Socket:
    """A client socket that keeps every frame it receives, by type. A
    browser's (cookie, and the page's Origin) or, without a cookie, a
    mobile client's (no Origin)."""

    def __init__(self, url: str, cookie: str | None = None, **options):
        self.url, self.cookie, self.options = url, cookie, options
        self.frames: list[dict] = []
        self.arrived = asyncio.Event()

    async def __aenter__(self):
        headers = {}
        if self.cookie:
            headers = {"Cookie": self.cookie, "Origin": self.url.replace("ws://", "http://").rsplit("/ws/", 1)[0]}
        self.ws = await connect(self.url, additional_headers=headers, **self.options)
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        await self.ws.close()

    async def _read(self):
        try:
            async for text in self.ws:
                self.frames.append(json.loads(text))
                self.arrived.set()
        except ConnectionClosed:
            pass
        self.arrived.set()

    async def send(self, frame: dict):
        await self.ws.send(json.dumps(frame))

    def of(self, kind: str) -> list[dict]:
        return [f for f in self.frames if f["type"] == kind]

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code if self.reader.done() else None

    async def wait(self, predicate, timeout: float = 10):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            self.arrived.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out; frames: {[f['type'] for f in self.frames][-20:]}")
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                pass
