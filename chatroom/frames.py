"""The socket's client frames, mapped onto the chat services (api.md,
"WebSocket"). Each function takes the user and the decoded frame, validates
the frame's fields, calls one service or selector (which recheck the user's
room access on every frame), and returns what the socket sends back. They run
in a worker thread (``database_sync_to_async``); errors are the
ApplicationError hierarchy, which the consumer renders as ``error`` frames."""

from __future__ import annotations

from chatroom import selectors, services
from chatroom.models import Room
from chatroom.presenters import message_dicts, user_dict
from config.errors import ValidationFailed, parse_uuid


def _text(frame: dict, field: str, *, required: bool = True, max_length: int = 100_000) -> str | None:
    value = frame.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > max_length:
        raise ValidationFailed(fields={field: ["Required text." if required else "Text, when given."]})
    return value


def _id(frame: dict, field: str, *, required: bool = True):
    """A UUID field of a frame, parsed here: garbage never reaches a query
    (where Django would raise a ValidationError of its own, not ours)."""
    return parse_uuid(_text(frame, field, required=required, max_length=64), field, optional=not required)


def message_send(user, frame: dict) -> dict:
    """``message.send`` -> ``ack {client_id, message}``. A client_id sent again
    returns the first message and broadcasts nothing new."""
    client_id = _text(frame, "client_id", max_length=services.CLIENT_ID_MAX)
    # message_post reads the room with the membership; a room that does not
    # exist is, to the sender, one they are not a member of.
    room = Room(pk=_id(frame, "room_id"))
    content = frame.get("content")
    if not isinstance(content, str):
        raise ValidationFailed(fields={"content": ["Required text."]})
    reply_to = _id(frame, "reply_to", required=False)
    message = services.message_post(actor=user, room=room, content=content, reply_to=reply_to, client_id=client_id)
    body = getattr(message, "body", None) or message_dicts([message], user)[0]  # a resend re-reads the first
    return {"type": "ack", "client_id": client_id, "message": body}


def message_edit(user, frame: dict) -> None:
    services.message_edit(actor=user, message_id=_id(frame, "message_id"), content=_text(frame, "content"))


def message_delete(user, frame: dict) -> None:
    services.message_delete(actor=user, message_id=_id(frame, "message_id"))


def reaction_add(user, frame: dict) -> None:
    services.reaction_add(actor=user, message_id=_id(frame, "message_id"),
                          emoji=_text(frame, "emoji", max_length=services.EMOJI_MAX))


def reaction_remove(user, frame: dict) -> None:
    services.reaction_remove(actor=user, message_id=_id(frame, "message_id"),
                             emoji=_text(frame, "emoji", max_length=services.EMOJI_MAX))


def read(user, frame: dict) -> None:
    room, _ = selectors.room_for_member(user=user, room_id=_id(frame, "room_id"))
    services.read_mark(actor=user, room=room, message_id=_id(frame, "message_id"))


def typing_room(user, frame: dict) -> tuple[str, str]:
    """Validate a ``typing`` frame and recheck membership: (room_id, state)."""
    state = frame.get("state")
    if state not in ("start", "stop"):
        raise ValidationFailed(fields={"state": ["start or stop."]})
    room, _ = selectors.room_for_member(user=user, room_id=_id(frame, "room_id"))
    return str(room.id), state


def typing_frame(user, room_id: str, state: str) -> dict:
    return {"type": "typing", "room_id": room_id, "user": user_dict(user), "state": state}


def resume_rooms(user, frame: dict) -> dict:
    """Validate ``resume``'s ``rooms: {room_id: cursor}`` (a null cursor means
    from the room's first message); room ids come back in their canonical form."""
    rooms = frame.get("rooms")
    if not isinstance(rooms, dict) or len(rooms) > 1000:
        raise ValidationFailed(fields={"rooms": ["An object of room id -> last cursor."]})
    out = {}
    for room_id, cursor in rooms.items():
        room_id = str(parse_uuid(room_id if len(room_id) <= 64 else None, "rooms"))
        if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 200):
            raise ValidationFailed(fields={"rooms": [f"The cursor for {room_id} is not a cursor."]})
        if cursor is not None:
            selectors.cursors.decode(cursor, field="rooms")
        out[room_id] = cursor
    return out


def job_subscribe(user, frame: dict) -> dict:
    """``job.subscribe``: the job (the user's own, or any for staff) as a
    ``job.progress`` frame to start from."""
    from jobs.presenters import job_dict
    from jobs.selectors import job_for

    job = job_for(user, _id(frame, "job_id"))
    return {"type": "job.progress", "job": job_dict(job)}
