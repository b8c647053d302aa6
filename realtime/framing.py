"""Client frames on the wire (api.md, "WebSocket"): decoding them with the
same bounds as the API's bodies, naming a frame in an error's ``ref``, the
``error`` frame itself, and reading a frame's fields for the handlers apps
register (realtime.registry)."""

from __future__ import annotations

import json
import uuid

from django.utils.translation import gettext_lazy as _

from config import safejson
from core.errors import ApplicationError, ValidationFailed, parse_uuid
from realtime.languages import interpolate

MAX_FRAME_BYTES = 64 * 1024
MAX_REF_LENGTH = 200


def decode_frame(text_data: str | None) -> dict:
    """A client frame as a dict with a string ``type``, or ValidationFailed:
    binary, over MAX_FRAME_BYTES, not JSON, nested too deep, holding NUL or
    lone surrogates (config.safejson, the same bounds as the API's bodies),
    or not an object."""
    if text_data is None:
        raise ValidationFailed(_("Frames are JSON text, not binary."))
    if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise ValidationFailed(interpolate(_("Frames are JSON text of at most %(limit)s bytes."),
                {"limit": MAX_FRAME_BYTES}))
    frame = safejson.loads(text_data, field="frame")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValidationFailed(_("A frame is a JSON object with a string 'type'."))
    return frame


def frame_ref(frame) -> str | None:
    """What an error about ``frame`` names as ``ref``: its client_id (so a
    message.send is never left unanswered), else the message or room it is
    about, else its type. Only short, storable text is echoed."""
    if not isinstance(frame, dict):
        return None
    for field in ("client_id", "message_id", "room_id", "type"):
        ref = frame.get(field)
        if isinstance(ref, str) and ref and len(ref) <= MAX_REF_LENGTH:
            try:
                return safejson.check_text(ref)
            except ValidationFailed:
                return None
    return None


def refused_frame_ref(text_data: str | None) -> str | None:
    """The ref of a frame decode_frame refused, when it still parses within
    the depth bound (its text held NUL or a lone surrogate, say): the
    client_id of a refused message.send must come back with its error."""
    if not text_data or len(text_data) > MAX_FRAME_BYTES or safejson.too_deep(text_data):
        return None
    try:
        return frame_ref(json.loads(text_data))
    except ValueError:
        return None


def error_frame(exc: ApplicationError, ref: str | None) -> dict:
    """api.md's ``error {code, message, ref?}``, with ``fields`` for bad
    input and ``retry_after`` (seconds) when waiting helps: throttled,
    service_unavailable."""
    frame = {"type": "error", **exc.as_dict()}
    if ref is not None:
        frame["ref"] = ref
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return frame


def text_field(frame: dict, field: str, *, required: bool = True, max_length: int = 100_000) -> str | None:
    """A text field of a frame, or ValidationFailed naming it."""
    value = frame.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > max_length:
        raise ValidationFailed(fields={field: [_("Required text.") if required else _("Text, when given.")]})
    return value


def uuid_field(frame: dict, field: str, *, required: bool = True) -> uuid.UUID | None:
    """A UUID field of a frame, parsed here: garbage never reaches a query
    (where Django would raise a ValidationError of its own, not ours)."""
    return parse_uuid(text_field(frame, field, required=required, max_length=64), field, optional=not required)
