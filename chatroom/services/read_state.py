"""A member's read cursor in a room."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from realtime import broadcast as realtime
from chatroom import receipts
from chatroom.models import Room, RoomMember
from chatroom.services._common import _find_in_room, _require_member


@transaction.atomic
def read_mark(*, actor: User, room: Room, message_id) -> RoomMember:
    """Move the member's read cursor forward to ``message_id`` (never back).
    A deleted message is a valid place to read up to: it still holds its
    place in the room's order (unread counts skip deleted messages), and a
    client whose newest message was just deleted must still be able to say
    it has read that far. A read receipt is personal state, not a change to
    shared data, so it is not audited (it would put every glance at a room
    into the audit chain)."""
    member = _require_member(room, actor, lock=True)
    message = _find_in_room(room, message_id, field="message_id", include_deleted=True)
    if member.last_read_at is not None and (message.created_at, str(message.id)) <= (
            member.last_read_at, str(member.last_read_message_id)):
        return member
    member.last_read_message_id = message.id
    member.last_read_at = message.created_at
    member.last_read_marked_at = timezone.now()  # the receipt's read_at; it orders nothing
    member.save(update_fields=["last_read_message_id", "last_read_at", "last_read_marked_at"])
    frame = {"type": "read", "room_id": str(room.id), "user_id": str(actor.id), "message_id": str(message.id)}
    # Where receipts exist (chatroom.receipts) the room's other members see
    # it; elsewhere only the reader's own sockets (their other tabs' counts).
    if receipts.shares_reads(room, actor):
        realtime.room_event(room.id, frame)
    else:
        realtime.user_event(actor.id, frame, room=str(room.id))
    return member
