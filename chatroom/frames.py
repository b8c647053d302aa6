"""The socket's chat frames, mapped onto the chat services (api.md,
"WebSocket"), and registered with the socket (realtime.registry) by
ChatroomConfig.ready. Each function takes the user and the decoded frame,
validates the frame's fields, calls one service or selector (which recheck
the user's room access on every frame), and returns what the socket sends
back. They run in a worker thread; errors are the ApplicationError
hierarchy, which the socket renders as ``error`` frames."""

from __future__ import annotations

from django.utils.translation import gettext

from accounts.languages import language_of
from chatroom import selectors, services
from chatroom.models import Room
from chatroom.presenters import localized_message, message_dicts, user_dict
from core.errors import ValidationFailed
from realtime import registry
from realtime.framing import text_field, uuid_field


def message_send(user, frame: dict) -> dict:
    """``message.send`` -> ``ack {client_id, message}``. A client_id sent again
    returns the first message and broadcasts nothing new."""
    client_id = text_field(frame, "client_id", max_length=services.CLIENT_ID_MAX)
    # message_post reads the room with the membership; a room that does not
    # exist is, to the sender, one they are not a member of.
    room = Room(pk=uuid_field(frame, "room_id"))
    content = frame.get("content")
    if not isinstance(content, str):
        raise ValidationFailed(fields={"content": [gettext("Required text.")]})
    reply_to = uuid_field(frame, "reply_to", required=False)
    thread_id = uuid_field(frame, "thread_id", required=False)
    also_to_room = frame.get("also_to_room", False)
    if not isinstance(also_to_room, bool):
        raise ValidationFailed(fields={"also_to_room": [gettext("true or false.")]})
    message = services.message_post(actor=user, room=room, content=content, reply_to=reply_to, client_id=client_id,
                                    thread_id=thread_id, also_to_room=also_to_room)
    body = getattr(message, "body", None) or message_dicts([message], user)[0]  # a resend re-reads the first
    return {"type": "ack", "client_id": client_id, "message": body}


def message_edit(user, frame: dict) -> None:
    services.message_edit(actor=user, message_id=uuid_field(frame, "message_id"),
                          content=text_field(frame, "content"))


def message_delete(user, frame: dict) -> None:
    services.message_delete(actor=user, message_id=uuid_field(frame, "message_id"))


def reaction_add(user, frame: dict) -> None:
    services.reaction_add(actor=user, message_id=uuid_field(frame, "message_id"),
                          emoji=text_field(frame, "emoji", max_length=services.EMOJI_MAX))


def reaction_remove(user, frame: dict) -> None:
    services.reaction_remove(actor=user, message_id=uuid_field(frame, "message_id"),
                             emoji=text_field(frame, "emoji", max_length=services.EMOJI_MAX))


def read(user, frame: dict) -> None:
    room, _member = selectors.room_for_member(user=user, room_id=uuid_field(frame, "room_id"))
    services.read_mark(actor=user, room=room, message_id=uuid_field(frame, "message_id"))


def thread_read(user, frame: dict) -> None:
    """``thread.read {root_id, message_id}``: the thread's own read cursor
    (the room's does not move); the user's other sockets get ``thread.read``."""
    services.thread_read_mark(actor=user, root_id=uuid_field(frame, "root_id"),
                              message_id=uuid_field(frame, "message_id"))


def typing(user, frame: dict) -> registry.Typing:
    """``typing {room_id, state}``, membership rechecked; the socket relays it."""
    state = frame.get("state")
    if state not in ("start", "stop"):
        raise ValidationFailed(fields={"state": [gettext("start or stop.")]})
    room, _member = selectors.room_for_member(user=user, room_id=uuid_field(frame, "room_id"))
    return registry.Typing(room_id=str(room.id), state=state, user=user_dict(user))


def localized_message_frame(frame: dict) -> dict:
    """A ``message.new``/``message.updated`` frame broadcast with coded texts
    (a system message), rendered in the active language: each socket's
    (realtime.languages, once per event and language in a process)."""
    message = frame.get("message")
    return {**frame, "message": localized_message(message)} if isinstance(message, dict) else frame


def register() -> None:
    for frame_type, handle in (("message.send", message_send), ("message.edit", message_edit),
                               ("message.delete", message_delete), ("reaction.add", reaction_add),
                               ("reaction.remove", reaction_remove), ("read", read), ("thread.read", thread_read)):
        registry.register_frame(frame_type, handle, write=True)
    registry.register_frame("typing", typing)
    # Issue 19: the socket speaks its user's profile language, and renders
    # system messages in it.
    registry.register_language_of(language_of)
    for frame_type in ("message.new", "message.updated"):
        registry.register_localizer(frame_type, localized_message_frame)
