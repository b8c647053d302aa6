"""Missed-message mail (issue 18), deciding what to mail: a mention, a DM, or
a reply in a followed thread, still unread MISSED_MESSAGE_EMAIL_DELAY_SECONDS
after it came, while the user has no socket online, is mailed; the ones a
user has waiting are batched into one mail.

The notifications are the record of what reached whom (message_send writes
them, group mentions included), so the scan reads them: per user, those
newer than the user's cursor (MissedMailCursor) and older than the delay.
The cursor moves past them whatever is decided, so each is considered once:
a user who was online, in do-not-disturb, or who turned the mails off is not
mailed about them later either. What is still unread is written to the
outbox (MissedMessageMail) in the same transaction, and sent after commit by
chatroom.tasks.send_missed_mail (missed_mail_send)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts import dnd
from accounts.models import Notification, Profile, User
from chatroom.models import Mention, Message, MissedMailCursor, MissedMessageMail, RoomMember, ThreadFollow
from realtime import presence

# A user without a cursor yet (the first scan after deploying) is looked at
# this far back from the delay's horizon, not through their whole history.
FIRST_LOOK_BACK = timedelta(hours=1)
USERS_PER_SCAN = 500


def delay() -> timedelta:
    return timedelta(seconds=settings.MISSED_MESSAGE_EMAIL_DELAY_SECONDS)


def _reported() -> Q:
    """The notifications a missed-message mail reports."""
    return Q(type=Notification.Type.MENTION) | Q(type=Notification.Type.NEW_MESSAGE,
                                                 data__reason__in=["dm", "thread"])


def wants_mail(preferences) -> bool:
    return not (isinstance(preferences, dict) and preferences.get("email_notifications") is False)


def _candidates(now: datetime):
    horizon = now - delay()
    seen = MissedMailCursor.objects.filter(user=OuterRef("user_id")).values("scanned_until")
    return (Notification.objects.filter(_reported(), created_at__lte=horizon,
                                        created_at__gt=horizon - FIRST_LOOK_BACK - delay())
            .annotate(seen=Subquery(seen))
            .filter(Q(seen__isnull=True) | Q(created_at__gt=F("seen"))))


def still_unread(user_id, notifications: list[Notification]) -> list[tuple[Notification, Message]]:
    """The notifications whose message is still there, still unread by the
    user (room or thread read cursor, or the notification itself), and, for
    a mention, still mentions them (not edited away). Four queries."""
    notifications = [n for n in notifications if not n.is_read and (n.data or {}).get("message_id")]
    if not notifications:
        return []
    ids = {n.data["message_id"] for n in notifications}
    messages = {str(m.id): m for m in Message.objects.filter(id__in=ids, is_deleted=False).select_related("user", "room")}
    mentioned = {str(i) for i in Mention.objects.filter(message_id__in=ids, user_id=user_id).values_list("message_id", flat=True)}
    rooms = dict(RoomMember.objects.filter(user_id=user_id, room_id__in={m.room_id for m in messages.values()})
                 .values_list("room_id", "last_read_at"))
    threads = dict(ThreadFollow.objects.filter(user_id=user_id, root_id__in={m.thread_id for m in messages.values()
                                                                            if m.thread_id})
                   .values_list("root_id", "last_read_at"))
    out = []
    for n in notifications:
        m = messages.get(n.data["message_id"])
        if m is None or m.room_id not in rooms:
            continue  # deleted, or the user left the room
        if n.type == Notification.Type.MENTION and str(m.id) not in mentioned:
            continue  # edited away
        read_at = threads.get(m.thread_id) if m.thread_id else rooms[m.room_id]
        if read_at is not None and read_at >= m.created_at:
            continue
        out.append((n, m))
    return out


def scan(*, now: datetime | None = None) -> list:
    """The beat task's body: queue a mail for each user who has something
    due. Returns the ids of the mails queued (sent after commit)."""
    now = now or timezone.now()
    user_ids = list(_candidates(now).order_by().values_list("user_id", flat=True).distinct()[:USERS_PER_SCAN])
    online = presence.has_live_socket(user_ids) if user_ids else set()
    resting = dnd.in_dnd(user_ids, now) if user_ids else set()
    queued = []
    for user_id in user_ids:
        mail = _scan_user(user_id, now, skip=str(user_id) in online or user_id in resting)
        if mail is not None:
            queued.append(mail.pk)
    return queued


@transaction.atomic
def _scan_user(user_id, now: datetime, *, skip: bool) -> MissedMessageMail | None:
    horizon = now - delay()
    cursor = MissedMailCursor.objects.select_for_update().filter(user_id=user_id).first()
    since = cursor.scanned_until if cursor else horizon - FIRST_LOOK_BACK - delay()
    due = list(Notification.objects.filter(_reported(), user_id=user_id, created_at__gt=since,
                                           created_at__lte=horizon).order_by("created_at"))
    if not due:
        return None
    MissedMailCursor.objects.update_or_create(user_id=user_id, defaults={"scanned_until": due[-1].created_at})
    if skip:
        return None
    user = User.objects.filter(pk=user_id, status=User.Status.ACTIVE).exclude(email="").first()
    prefs = Profile.objects.filter(user_id=user_id).values_list("preferences", flat=True).first()
    if user is None or not wants_mail(prefs):
        return None
    keep = still_unread(user_id, due)
    if not keep:
        return None
    limit = settings.MISSED_MESSAGE_EMAIL_MAX_ITEMS
    mail = MissedMessageMail.objects.create(user_id=user_id, notification_ids=[n.pk for n, _ in keep[-limit:]],
                                            next_attempt_at=now)
    from chatroom.tasks import send_missed_mail  # the task module imports this one

    transaction.on_commit(lambda: send_missed_mail.delay(str(mail.pk)))
    return mail
