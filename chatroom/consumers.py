"""The client WebSocket at /ws/ (api.md, "WebSocket").

One socket per client. Frames are JSON objects with a ``type``; each type is
handled by one entry of the dispatch table. The live-chat feature adds its
frame types to that table; this module stays a thin face over the services.
"""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.selectors import user_for_token

# Close codes from the contract.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429

MAX_FRAME_BYTES = 64 * 1024


class ClientConsumer(AsyncWebsocketConsumer):
    user = None
    _auth_timer: asyncio.Task | None = None

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is not None and user.is_authenticated:
            if not user.is_active:  # inactive or banned: refused on every face
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
                return
            await self.on_authenticated(user)
            return
        # No session cookie (mobile clients): the first frame must be
        # {"type": "auth", "token": ...}, within WS_AUTH_TIMEOUT_SECONDS.
        self._auth_timer = asyncio.create_task(self._close_unless_authenticated())

    async def _close_unless_authenticated(self):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECONDS)
        if self.user is None:
            await self.close(code=CLOSE_AUTH_TIMEOUT)

    async def authenticate(self, text_data) -> None:
        """The auth frame: a device session token (accounts.selectors.user_for_token
        refuses bad, revoked, expired and inactive or banned users' tokens)."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            frame = None
        token = frame.get("token") if isinstance(frame, dict) and frame.get("type") == "auth" else None
        found = await database_sync_to_async(user_for_token)(token) if isinstance(token, str) else None
        if found is None:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        await self.on_authenticated(found[0])

    async def on_authenticated(self, user) -> None:
        self.user = user
        await self.send_frame({"type": "ready", "user": {"id": str(user.id), "username": user.username}, "rooms": []})

    async def disconnect(self, code):
        if self._auth_timer is not None:
            self._auth_timer.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None:
            if text_data is not None and len(text_data.encode()) <= MAX_FRAME_BYTES:
                await self.authenticate(text_data)
            else:
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_error("validation_error", "Frames are JSON text of at most 64 KiB.")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.send_error("validation_error", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("validation_error", "A frame is a JSON object with a string 'type'.")
            return
        handler = self.handlers.get(frame["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type']!r}.", ref=frame.get("type"))
            return
        await handler(self, frame)

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, default=str))

    async def send_error(self, code: str, message: str, ref: str | None = None) -> None:
        frame = {"type": "error", "code": code, "message": message}
        if ref is not None:
            frame["ref"] = ref
        await self.send_frame(frame)

    async def on_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})

    handlers = {
        "ping": on_ping,
    }
