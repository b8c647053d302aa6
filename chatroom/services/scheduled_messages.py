"""Send later: scheduling, editing and cancelling a message that the sender
(chatroom.services.scheduled_send) posts at its ``send_at``. The author must
be able to post in the room when scheduling; the post itself is judged
again, with the author's rights at that moment, when it is sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom import scheduled_selectors, selectors
from chatroom.models import ScheduledMessage
from chatroom.permissions import has_power
from chatroom.scheduled_presenters import scheduled_dict
from chatroom.services._common import _audit, _find_in_room, _require_active
from chatroom.services.message_send import _validate_content
from core.changes import UNSET, given
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from realtime import broadcast as realtime

# How far ahead a message may be scheduled (api.md: at most a year).
MAX_AHEAD = timedelta(days=365)
Status = ScheduledMessage.Status

# Why a message that is no longer waiting refuses a change, by its status
# (whole sentences, so each language words them its own way).
_UNCHANGEABLE = {
    Status.SENT: _("This message was sent already and can no longer be changed."),
    Status.FAILED: _("This message failed to send and can no longer be changed."),
    Status.CANCELLED: _("This message was cancelled and can no longer be changed."),
}
_UNCANCELLABLE = {
    Status.SENT: _("This message was sent already and can no longer be cancelled."),
    Status.FAILED: _("This message failed to send and can no longer be cancelled."),
}


def _check_send_at(send_at) -> datetime:
    if not isinstance(send_at, datetime) or timezone.is_naive(send_at):
        raise ValidationFailed(fields={"send_at": [gettext("A date and time with its time zone.")]})
    now = timezone.now()
    if send_at <= now:
        raise ValidationFailed(fields={"send_at": [gettext("Must be in the future.")]})
    if send_at > now + MAX_AHEAD:
        raise ValidationFailed(fields={"send_at": [gettext("At most a year ahead.")]})
    return send_at


def push(scheduled: ScheduledMessage) -> None:
    """``scheduled.updated`` to the author's sockets after commit, so every
    tab's list follows (a create, an edit, a cancel, a send, a failure)."""
    realtime.user_event(scheduled.author_id, {"type": "scheduled.updated", "scheduled": scheduled_dict(scheduled)})


@transaction.atomic
def scheduled_create(*, actor: User, room_id, content: str, send_at: datetime, thread_id=None) -> ScheduledMessage:
    try:
        room, member = selectors.room_for_member(user=actor, room_id=room_id)
    except NotFound:
        # The room is named in the body, not the path: a bad field (a DM of
        # others stays the same answer as no room at all).
        raise ValidationFailed(fields={"room_id": [gettext("No such room.")]}) from None
    _require_active(room)
    if not has_power(member, "post") or member.is_muted:
        raise PermissionDenied(_("You may not post in this room."))
    content = _validate_content(content)
    send_at = _check_send_at(send_at)
    if thread_id is not None:
        root = _find_in_room(room, thread_id, field="thread_id")
        if root.thread_id is not None:
            raise ValidationFailed(fields={"thread_id": [gettext("A reply in a thread cannot start another thread.")]})
        thread_id = root.id
    scheduled = ScheduledMessage.objects.create(author=actor, room=room, thread_id=thread_id, content=content,
                                                send_at=send_at)
    _audit("scheduled_message.created", actor=actor, room=room, resource_type="scheduled_message",
           resource_id=scheduled.id, details={"send_at": send_at.isoformat(),
                                              "thread_id": str(thread_id) if thread_id else None})
    push(scheduled)
    return scheduled


@transaction.atomic
def scheduled_update(*, actor: User, scheduled_id, content: str = UNSET, send_at: datetime = UNSET) -> ScheduledMessage:
    """Change the text or the time while it is still ``scheduled``; one that
    was sent, failed or cancelled is a Conflict (409)."""
    scheduled = scheduled_selectors.own(actor, scheduled_id, lock=True)
    if scheduled.status != Status.SCHEDULED:
        raise Conflict(_UNCHANGEABLE.get(scheduled.status, _UNCHANGEABLE[Status.SENT]))
    fields = given(content=content, send_at=send_at)
    if "content" in fields:
        scheduled.content = _validate_content(fields["content"])
    if "send_at" in fields:
        scheduled.send_at = _check_send_at(fields["send_at"])
    if fields:
        scheduled.save(update_fields=["content", "send_at", "updated_at"])
        _audit("scheduled_message.updated", actor=actor, room=scheduled.room, resource_type="scheduled_message",
               resource_id=scheduled.id, details={"fields": sorted(fields),
                                                  "send_at": scheduled.send_at.isoformat()})
        push(scheduled)
    return scheduled


@transaction.atomic
def scheduled_cancel(*, actor: User, scheduled_id) -> ScheduledMessage:
    """Cancel one that is still ``scheduled`` (cancelling again changes
    nothing); one already sent or failed is a Conflict."""
    scheduled = scheduled_selectors.own(actor, scheduled_id, lock=True)
    if scheduled.status == Status.CANCELLED:
        return scheduled
    if scheduled.status != Status.SCHEDULED:
        raise Conflict(_UNCANCELLABLE.get(scheduled.status, _UNCANCELLABLE[Status.SENT]))
    scheduled.status = Status.CANCELLED
    scheduled.save(update_fields=["status", "updated_at"])
    _audit("scheduled_message.cancelled", actor=actor, room=scheduled.room, resource_type="scheduled_message",
           resource_id=scheduled.id)
    push(scheduled)
    return scheduled


__all__ = ["MAX_AHEAD", "scheduled_cancel", "scheduled_create", "scheduled_update"]
