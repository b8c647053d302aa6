"""Socket helpers for the live-chat tests: connect as a user through the real
ASGI stack (session cookie, origin check) and read frames, skipping the
presence chatter that every connect and disconnect causes."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.asgi import application
from tests.browser import session_for

# A browser's handshake on http://localhost: the Host the socket is served
# on (checked against ALLOWED_HOSTS) and the page's origin, the same one.
HOST = (b"host", b"localhost")
ORIGIN = (b"origin", b"http://localhost")


def cookie_header(user):
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_for(user)}".encode())


async def connect(user) -> tuple[WebsocketCommunicator, dict]:
    cookie = await sync_to_async(cookie_header)(user)
    comm = WebsocketCommunicator(application, "/ws/", headers=[HOST, ORIGIN, cookie])
    connected, _ = await comm.connect()
    assert connected
    ready = await comm.receive_json_from(timeout=5)
    assert ready["type"] == "ready"
    return comm, ready


async def assert_closed_unauthenticated(cookie) -> None:
    """A socket with this cookie is accepted (mobile clients authenticate by
    frame), but is no session user: its first frame gets a 4401 close."""
    comm = WebsocketCommunicator(application, "/ws/", headers=[HOST, ORIGIN, cookie])
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def next_frame(comm, *, timeout: float = 5, skip=("presence",)) -> dict:
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] not in skip:
            return frame


async def frames_for(comm, seconds: float, *, skip=("presence",)) -> list[dict]:
    """Every frame (but ``skip``) that arrives within ``seconds``. (A timed-out
    receive would cancel the application, so poll with receive_nothing.)"""
    out = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await comm.receive_nothing(timeout=0.05, interval=0.01):
            continue
        frame = await comm.receive_json_from(timeout=1)
        if frame["type"] not in skip:
            out.append(frame)
    return out


async def until(comm, kind: str, *, timeout: float = 5) -> dict:
    """The next frame of type ``kind``, skipping any others."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await comm.receive_json_from(timeout=max(0.01, deadline - loop.time()))
        if frame["type"] == kind:
            return frame
