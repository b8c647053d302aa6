"""The client WebSocket at /ws/ (api.md, "WebSocket").

One socket per client. Frames are JSON objects with a ``type``; each type is
handled by one entry of the dispatch table. The live-chat feature adds its
frame types to that table; this module stays a thin face over the services.
"""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncWebsocketConsumer

# Close codes from the contract.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429

MAX_FRAME_BYTES = 64 * 1024


class ClientConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user
        await self.send_frame({"type": "ready", "user": {"id": str(user.id), "username": user.username}, "rooms": []})

    async def receive(self, text_data=None, bytes_data=None):
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
