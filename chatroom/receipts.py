"""Read receipts (api.md, "v1 additions", "Attention"): who has read a
message, derived from the members' read cursors (room_members'
last_read_message_id/last_read_at, and a thread's own cursor in
thread_follows for a reply shown only in its thread), so no row is stored
per message per reader.

The one rule of where receipts exist (``receipts_on``) decides both the
receipts call and where a ``read`` frame goes (chatroom.services.read_state):
DMs, group DMs and rooms of at most RECEIPTS_MAX_MEMBERS members, unless the
room's organization switched them off (its ``settings.read_receipts`` set to
false through orgs.services.org_update). A member who set
``profile.preferences.send_read_receipts`` to false is never shown."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from chatroom import selectors
from chatroom.models import Room, RoomMember, ThreadFollow
from chatroom.presenters import user_dict
from core.errors import ApplicationError
from core.timestamps import isoformat_z
from orgs.models import Organization

# The key in Organization.settings; false turns receipts off in the org's rooms.
ORG_SETTING = "read_receipts"
# The key in UserProfile.preferences; false hides the user from every receipt.
USER_PREFERENCE = "send_read_receipts"


class ReceiptsUnavailable(ApplicationError):
    status = 400
    code = "receipts_unavailable"
    default_message = "Read receipts are not available in this room."


def receipts_on(room: Room) -> bool:
    """Whether ``room`` shows read receipts (see the module's docstring)."""
    if room.org_id is not None:
        org_settings = Organization.objects.filter(pk=room.org_id).values_list("settings", flat=True).first() or {}
        if org_settings.get(ORG_SETTING) is False:
            return False
    if room.kind != Room.Kind.CHANNEL:
        return True
    return RoomMember.objects.filter(room_id=room.pk).count() <= settings.RECEIPTS_MAX_MEMBERS


def sends_receipts(user) -> bool:
    preferences = getattr(getattr(user, "profile", None), "preferences", None) or {}
    return preferences.get(USER_PREFERENCE) is not False


def shares_reads(room: Room, user) -> bool:
    """Whether ``user``'s read marks in ``room`` go to its other members."""
    return sends_receipts(user) and receipts_on(room)


def _read_past(created_at, message_id) -> Q:
    # A cursor at or after (created_at, id), in the rooms' message order.
    return Q(last_read_at__gt=created_at) | Q(last_read_at=created_at, last_read_message_id__gte=message_id)


def _hidden(qs, *, viewer, author_id):
    # Never the viewer, never the author (who wrote it), never an opted-out user.
    return (qs.exclude(user_id=viewer.pk).exclude(user_id=author_id)
            .exclude(user__profile__preferences__contains={USER_PREFERENCE: False}))


def message_receipts(*, user, message_id) -> dict:
    """``{count, read_by: [{user, read_at}]}`` for a message the user may
    read (selectors.message_get: the same 404 as every message read), the
    earliest reader first. ``read_at`` is when the reader's cursor last
    moved, so it is at or after the moment they read the message."""
    message, _ = selectors.message_get(user=user, message_id=message_id)
    if not receipts_on(message.room):
        raise ReceiptsUnavailable()
    if message.thread_id is not None and not message.also_to_room:
        # A reply shown only in its thread is read by the thread's cursor.
        rows = _hidden(ThreadFollow.objects.filter(root_id=message.thread_id).filter(
            _read_past(message.created_at, message.id)), viewer=user, author_id=message.user_id)
        rows = rows.filter(user__room_memberships__room_id=message.room_id)
        read_by = [{"user": user_dict(r.user), "read_at": isoformat_z(r.last_read_at)}
                   for r in rows.select_related("user").order_by("last_read_at", "user_id")]
    else:
        rows = _hidden(RoomMember.objects.filter(room_id=message.room_id).filter(
            _read_past(message.created_at, message.id)), viewer=user, author_id=message.user_id)
        read_by = [{"user": user_dict(r.user), "read_at": isoformat_z(r.last_read_marked_at or r.last_read_at)}
                   for r in rows.select_related("user").order_by("last_read_marked_at", "user_id")]
    return {"count": len(read_by), "read_by": read_by}


def room_read_cursors(*, user, room: Room) -> list[dict]:
    """For the room page: each other member's read cursor that receipts may
    show, ``[{user, message_id, read_at}]``; empty where receipts are off."""
    if not receipts_on(room):
        return []
    rows = (RoomMember.objects.filter(room_id=room.pk, last_read_message_id__isnull=False)
            .exclude(user_id=user.pk).exclude(user__profile__preferences__contains={USER_PREFERENCE: False})
            .select_related("user"))
    return [{"user": user_dict(r.user), "message_id": str(r.last_read_message_id),
             "read_at": isoformat_z(r.last_read_marked_at or r.last_read_at)} for r in rows]
