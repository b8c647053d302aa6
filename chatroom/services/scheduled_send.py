"""The sender of scheduled messages: at ``send_at`` each is posted through
message_post (the normal path: the posting function's rules, mentions,
notifications, the broadcast), as its author, with the author's rights at
that moment.

Exactly once. The scheduled row is claimed with ``FOR UPDATE SKIP LOCKED``
and only while it is still ``scheduled`` and due, and the post and the
row's new status commit in the same transaction. So a second beat's scan,
or the same task delivered twice, skips a row being sent and finds it sent
afterwards; a worker killed mid-send leaves no post (its transaction never
commits) and its lock is released by PostgreSQL when its connection goes,
so the next scan sends it. The post also carries a client id derived from
the scheduled id, which message_post stores once per author: a belt and
braces should the two ever be separated.

Refusals (the author was kicked or left, the room was archived, the other
person blocked them, the thread is gone) make it ``failed`` with the reason,
and the author is notified. A throttled author's message just waits for the
next scan."""

from __future__ import annotations

from django.db import transaction
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import notifications
from accounts.models import User
from chatroom.models import Room, ScheduledMessage
from chatroom.services._common import _audit
from chatroom.services.message_send import message_post
from chatroom.services.scheduled_messages import push
from core import coded_texts
from core.errors import ApplicationError, Throttled

Status = ScheduledMessage.Status
SCAN_BATCH = 200


def client_id_for(scheduled: ScheduledMessage) -> str:
    return f"scheduled:{scheduled.id}"


def _reason(exc: ApplicationError) -> str:
    if exc.fields:
        return "; ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in exc.fields.items())[:500]
    return exc.message[:500]


def _post(scheduled: ScheduledMessage):
    author = scheduled.author
    if author.status != User.Status.ACTIVE:
        raise ApplicationError(_("Your account is not active."), code="account_inactive")
    with transaction.atomic():  # a savepoint: a refused post leaves nothing behind
        return message_post(actor=author, room=Room(pk=scheduled.room_id), content=scheduled.content,
                            thread_id=scheduled.thread_id, client_id=client_id_for(scheduled))


def _fail(scheduled: ScheduledMessage, reason: str) -> None:
    scheduled.status, scheduled.error = Status.FAILED, reason
    scheduled.save(update_fields=["status", "error", "updated_at"])
    room = scheduled.room
    _audit("scheduled_message.failed", actor=scheduled.author, room=room, resource_type="scheduled_message",
           resource_id=scheduled.id, details={"error": reason})
    title, spec = notifications.coded(coded_texts.in_room("scheduled_failed", is_dm=room.is_dm), room=room.name)
    notifications.notify(
        user=scheduled.author, type=notifications.Type.SYSTEM_ALERT, priority=notifications.Priority.HIGH,
        title=title, message=reason,
        data={"i18n": spec, "reason": "scheduled_failed", "scheduled_id": str(scheduled.id), "room_id": str(room.id),
              "excerpt": notifications.excerpt(scheduled.content), "url": reverse("chatroom:scheduled")})


def scheduled_send(*, scheduled_id) -> str | None:
    """Send one scheduled message if it is due and still waiting; returns
    ``sent``, ``failed``, ``waiting`` (throttled, retried by the next scan)
    or None (not due, not waiting, or another process is sending it)."""
    with transaction.atomic():
        scheduled = (ScheduledMessage.objects.select_for_update(of=("self",), skip_locked=True)
                     .select_related("author", "room", "room__org")
                     .filter(id=scheduled_id, status=Status.SCHEDULED, send_at__lte=Now()).first())
        if scheduled is None:
            return None
        try:
            message = _post(scheduled)
        except Throttled:
            return "waiting"
        except ApplicationError as exc:
            _fail(scheduled, _reason(exc))
            push(scheduled)
            return "failed"
        scheduled.status, scheduled.error, scheduled.sent_at = Status.SENT, "", timezone.now()
        scheduled.message_id, scheduled.message_created_at = message.id, message.created_at
        scheduled.save(update_fields=["status", "error", "sent_at", "message_id", "message_created_at", "updated_at"])
        _audit("scheduled_message.sent", actor=scheduled.author, room=scheduled.room,
               resource_type="scheduled_message", resource_id=scheduled.id,
               details={"message_id": str(message.id)})
        push(scheduled)
        return "sent"


def scheduled_due_scan() -> dict:
    """Beat task body (every SCHEDULED_MESSAGES_SCAN_SECONDS): send every
    due message, oldest first. Several scans at once share the work (each
    row is claimed by one of them)."""
    due = (ScheduledMessage.objects.filter(status=Status.SCHEDULED, send_at__lte=Now())
           .order_by("send_at", "id").values_list("id", flat=True)[:SCAN_BATCH])
    outcomes: dict = {}
    for scheduled_id in list(due):
        outcome = scheduled_send(scheduled_id=scheduled_id)
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
