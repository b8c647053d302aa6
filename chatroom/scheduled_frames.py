"""The socket's send-later frames (README, "WebSocket", "Send later"),
mapped onto the same services and selectors as the API, and registered
with the socket (realtime.registry) by ChatroomConfig.ready:

- ``scheduled.create {room_id, content, send_at, thread_id?}``,
  ``scheduled.update {id, content?, send_at?}`` and ``scheduled.cancel {id}``
  answer ``scheduled.message {scheduled}``;
- ``scheduled.list {status?}`` answers ``scheduled.list {results}`` (the
  user's own, soonest first, at most SCHEDULED_LIST_MAX);
- every change also reaches the user's sockets as ``scheduled.updated``."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from chatroom import scheduled_selectors
from chatroom.scheduled_presenters import scheduled_dict
from chatroom.services import scheduled_messages
from core.changes import UNSET
from core.errors import ValidationFailed
from realtime import registry
from realtime.framing import text_field, uuid_field

SCHEDULED_LIST_MAX = 200


def _send_at(frame: dict, *, required: bool = True):
    value = frame.get("send_at")
    if value is None and not required:
        return UNSET
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible ("2026-13-45T00:00")
        parsed = None
    if parsed is None:
        raise ValidationFailed(fields={"send_at": [gettext("An ISO 8601 date and time with its time zone.")]})
    return parsed


def _answer(scheduled) -> dict:
    return {"type": "scheduled.message", "scheduled": scheduled_dict(scheduled)}


def scheduled_create(user, frame: dict) -> dict:
    content = frame.get("content")
    if not isinstance(content, str):
        raise ValidationFailed(fields={"content": [gettext("Required text.")]})
    return _answer(scheduled_messages.scheduled_create(
        actor=user, room_id=uuid_field(frame, "room_id"), content=content, send_at=_send_at(frame),
        thread_id=uuid_field(frame, "thread_id", required=False)))


def scheduled_update(user, frame: dict) -> dict:
    content = frame.get("content", UNSET)
    if content is not UNSET and not isinstance(content, str):
        raise ValidationFailed(fields={"content": [gettext("Text.")]})
    return _answer(scheduled_messages.scheduled_update(
        actor=user, scheduled_id=uuid_field(frame, "id"), content=content, send_at=_send_at(frame, required=False)))


def scheduled_cancel(user, frame: dict) -> dict:
    return _answer(scheduled_messages.scheduled_cancel(actor=user, scheduled_id=uuid_field(frame, "id")))


def scheduled_list(user, frame: dict) -> dict:
    status = text_field(frame, "status", required=False, max_length=20) or None
    found = scheduled_selectors.scheduled_list(user=user, status=status).order_by("send_at", "id")
    return {"type": "scheduled.list", "results": [scheduled_dict(s) for s in found[:SCHEDULED_LIST_MAX]]}


def register() -> None:
    for frame_type, handle in (("scheduled.create", scheduled_create), ("scheduled.update", scheduled_update),
                               ("scheduled.cancel", scheduled_cancel)):
        registry.register_frame(frame_type, handle, write=True)
    registry.register_frame("scheduled.list", scheduled_list)
