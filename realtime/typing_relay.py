"""One socket's typing indicators (api.md: ``typing {room_id, user, state}``).

A typist's ``start`` is relayed at most every TYPING_RELAY_SECONDS per room,
never to the typist's own sockets (the event carries ``sender``, which the
consumer skips), and a ``stop`` follows TYPING_TTL_SECONDS after the last
``start``, or at once when the typist stops, leaves the room or closes the
socket. Typing is never stored: it goes straight to the room's group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from django.conf import settings

from realtime import broadcast
from realtime.registry import Typing

TYPING_RELAY_SECONDS = 2.0  # a typist's "start" is relayed at most this often per room


class TypingRelay:
    def __init__(self, *, sender_id: str, spawn: Callable[..., asyncio.Task]):
        self.sender_id = sender_id
        self.spawn = spawn  # starts a timer task (the socket's, whose faults it handles)
        self.expiries: dict[str, asyncio.Task] = {}  # room id -> the expiry of our typing state
        self.relayed: dict[str, float] = {}  # room id -> when a "start" was last relayed
        self.users: dict[str, dict] = {}  # room id -> the typist as the frames show them

    async def change(self, typing: Typing) -> None:
        room_id = typing.room_id
        if typing.state == "stop":
            await self.stop(room_id)
            return
        timer = self.expiries.pop(room_id, None)
        if timer is not None:
            timer.cancel()
        self.users[room_id] = typing.user
        # Expires TYPING_TTL_SECONDS after the last "start" unless refreshed.
        self.expiries[room_id] = self.spawn(self._expire(room_id))
        now = time.monotonic()
        if now - self.relayed.get(room_id, 0.0) >= TYPING_RELAY_SECONDS:
            self.relayed[room_id] = now
            await self._send(room_id, "start")

    async def _expire(self, room_id: str) -> None:
        await asyncio.sleep(settings.TYPING_TTL_SECONDS)
        self.expiries.pop(room_id, None)
        self.relayed.pop(room_id, None)
        await self._send(room_id, "stop")

    async def stop(self, room_id: str) -> None:
        timer = self.expiries.pop(room_id, None)
        if timer is None:
            return  # not typing there: nothing to take back
        timer.cancel()
        self.relayed.pop(room_id, None)
        await self._send(room_id, "stop")

    async def stop_all(self) -> None:
        for room_id in list(self.expiries):
            await self.stop(room_id)

    async def _send(self, room_id: str, state: str) -> None:
        frame = {"type": "typing", "room_id": room_id, "user": self.users.get(room_id), "state": state}
        await broadcast.send_now([broadcast.room_group(room_id)], frame, room=room_id, sender=self.sender_id)
