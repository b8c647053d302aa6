"""The one module that talks to the channel layer (architecture.md).

Services call ``room_event``/``user_event``/``broadcast`` inside their
transaction; frames go out only after commit (``transaction.on_commit``), so a
client never sees something that rolled back, and one that reconnects catches
up from the database by its cursor. Frames use api.md's shapes; the socket
consumer only relays ``event["frame"]`` to the client (handler
``client_frame``). Every group name comes from a function here."""

from __future__ import annotations

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPE = "client.frame"  # -> consumer method client_frame(self, event)


def room_group(room_id: uuid.UUID | str) -> str:
    """Every socket subscribed to a room joins this group."""
    return f"room.{room_id}"


def user_group(user_id: uuid.UUID | str) -> str:
    """All of one user's sockets (their notifications, their jobs, rooms they leave)."""
    return f"user.{user_id}"


def job_group(job_id: uuid.UUID | str) -> str:
    """Sockets that sent ``job.subscribe`` for one job."""
    return f"job.{job_id}"


def _send(groups: list[str], frame: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": EVENT_TYPE, "frame": frame})
        except Exception:  # noqa: BLE001 - the write committed; clients catch up from the database
            logger.exception("broadcast to %s failed", group)


def broadcast(groups: list[str], frame: dict) -> None:
    """Send ``frame`` to ``groups`` once the current transaction commits."""
    transaction.on_commit(lambda: _send(groups, frame))


def room_event(room_id, frame: dict) -> None:
    broadcast([room_group(room_id)], frame)


def user_event(user_id, frame: dict) -> None:
    broadcast([user_group(user_id)], frame)
