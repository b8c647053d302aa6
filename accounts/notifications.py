"""Notifications: every write and every user-facing read (issue 7).

Writes (``notify``, ``notify_many``, ``notification_mark_read``,
``notification_mark_all_read``, ``notification_archive``,
``notifications_purge_expired``) run in one transaction and push their frame
to the user's sockets only after commit (realtime.broadcast), so a socket never
shows a notification that rolled back; a client that missed the frame finds
it in the list. Callers (message_post, invite_user, job_finish, alert_staff)
call them inside their own transaction, so a notification exists exactly when
the change it reports does.

A notification is the recipient's personal state derived from a change that
is itself audited (the message, the invite, the job, the alert), and reading
or archiving one is personal state too, like a chat read receipt: none of
these write audit entries, which would otherwise put every glance at the
badge into the audit chain.

Titles are stored as a code and parameters (``data["i18n"]``,
core.coded_texts) beside their English rendering (``title``): every reader
reads them in their own language, rendered when read (the list, the API,
the page) or, for the frame pushed to the recipient's sockets, in the
recipient's profile language.

Reads are scoped to their user: another user's notification is "not found",
never "forbidden", so ids do not leak. Expired notifications are invisible at
once and deleted later by the beat task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Notification, Profile, User
from core import coded_texts
from core.errors import NotFound, ValidationFailed
from core.timestamps import isoformat_z
from realtime import broadcast

Type = Notification.Type
Priority = Notification.Priority

# The nav badge counts at most this many and shows "99+" beyond: the count
# stays one bounded index scan however large a backlog grows.
BADGE_CAP = 99
EXCERPT_LENGTH = 140
TITLE_MAX = 255
MESSAGE_MAX = 2000

# Operational alerts reach staff whatever their per-type preferences say.
_UNMUTABLE = {Type.SYSTEM_ALERT}

FRAME_NEW = "notification"
# Sent after reads and archiving so every open tab's badge agrees (an
# addition to api.md's frames; "notification" is the one it lists).
FRAME_UNREAD = "notifications.unread"


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    """One line of at most ``length`` characters (for titles and data)."""
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# --------------------------------------------------------------------------- presenter


def title_of(n: Notification) -> str:
    """The title in the active language (the stored one when it has no code
    or cannot be rendered)."""
    return coded_texts.notification_title(n.data, n.title)


def coded(code: str, **params) -> tuple[str, dict]:
    """A title stored as ``code`` (core.coded_texts.NOTIFICATIONS) with
    ``params``: (its English rendering for ``title``, what goes in
    ``data["i18n"]``)."""
    return coded_texts.notification_english(code, **params)


def notification_dict(n: Notification) -> dict:
    """The API's and the socket's notification object, its title in the
    active language. ``data`` carries the type's ids (room_id, message_id,
    job_id, invite_code, ...) and ``url``, a page link, when there is one."""
    return {
        "id": str(n.id),
        "type": n.type,
        "title": title_of(n),
        "message": n.message,
        "data": n.data or {},
        "priority": n.priority,
        "is_read": n.is_read,
        "is_archived": n.is_archived,
        "read_at": isoformat_z(n.read_at),
        "expires_at": isoformat_z(n.expires_at),
        "created_at": isoformat_z(n.created_at),
        "url": (n.data or {}).get("url"),
    }


# --------------------------------------------------------------------------- selectors


def _visible(now: datetime | None = None) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now())


class RenderedNotifications(QuerySet):
    """Notifications whose ``title`` reads in the active language once
    fetched (the page's template shows ``n.title``). Rows read this way are
    for showing: their title is not saved back."""

    def _fetch_all(self):
        rendered = self._result_cache is None
        super()._fetch_all()
        if rendered:
            for n in self._result_cache:
                if isinstance(n, Notification):
                    n.title = title_of(n)


def notifications_for(*, user: User, unread: bool = False, archived: bool = False) -> QuerySet[Notification]:
    """The user's own live notifications, newest first: the inbox (not
    archived) by default, or the archive; ``unread`` keeps only unread ones.
    Their titles read in the active language."""
    qs = RenderedNotifications(model=Notification).filter(_visible(), user=user, is_archived=archived)
    if unread:
        qs = qs.filter(is_read=False)
    return qs.order_by("-created_at", "-id")


def notification_get(*, user: User, notification_id, lock: bool = False) -> Notification:
    """One of the user's own notifications; NotFound for a malformed,
    unknown, expired or foreign id alike."""
    try:
        pk = uuid.UUID(str(notification_id))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(_("No such notification.")) from None
    qs = Notification.objects.filter(_visible(), pk=pk, user=user)
    if lock:
        qs = qs.select_for_update()
    found = qs.first()
    if found is None:
        raise NotFound(_("No such notification."))
    return found


def unread_count(*, user: User, cap: int | None = BADGE_CAP) -> int:
    """Unread, unarchived, unexpired notifications, counted up to ``cap`` + 1
    (one LIMITed scan of idx_notifications_user); ``cap=None`` counts all."""
    qs = Notification.objects.filter(_visible(), user=user, is_read=False, is_archived=False)
    if cap is not None:
        return qs.values("id")[: cap + 1].count()
    return qs.count()


def badge_text(count: int) -> str:
    return f"{BADGE_CAP}+" if count > BADGE_CAP else str(count)


# --------------------------------------------------------------------------- creating


@dataclass
class Draft:
    """One notification to create (see ``notify_many``)."""

    user_id: uuid.UUID
    type: str
    title: str
    message: str = ""
    data: dict = field(default_factory=dict)
    priority: str = Priority.NORMAL
    expires_at: datetime | None = None


def _validate(draft: Draft) -> None:
    fields = {}
    if draft.type not in Type.values:
        fields["type"] = [gettext("One of %(choices)s.") % {"choices": ", ".join(Type.values)}]
    if draft.priority not in Priority.values:
        fields["priority"] = [gettext("One of %(choices)s.") % {"choices": ", ".join(Priority.values)}]
    if not isinstance(draft.title, str) or not draft.title.strip():
        fields["title"] = [gettext("A title is required.")]
    if not isinstance(draft.data, dict):
        fields["data"] = [gettext("Must be a JSON object.")]
    if draft.expires_at is not None and timezone.is_naive(draft.expires_at):
        fields["expires_at"] = [gettext("Give a time zone.")]
    if fields:
        raise ValidationFailed(fields=fields)


def _opted_out(preferences, type_: str) -> bool:
    """Profile.notifications may switch a type off: {"<type>": false}."""
    return type_ not in _UNMUTABLE and isinstance(preferences, dict) and preferences.get(type_) is False


def languages_of(user_ids) -> dict:
    """{user id: profile language} (one query)."""
    return dict(Profile.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "language"))


def push(notifications: list[Notification], languages: dict | None = None) -> None:
    """Send each new notification to its user's sockets after commit, in the
    user's language (``languages``: {user id: language}, read when not given)."""
    if not notifications:
        return
    if languages is None:
        languages = languages_of({n.user_id for n in notifications})
    for notification in notifications:
        with translation.override(languages.get(notification.user_id) or "en"):
            body = notification_dict(notification)
        broadcast.user_event(notification.user_id, {"type": FRAME_NEW, "notification": body})


@transaction.atomic
def notify_many(*, drafts: list[Draft]) -> list[Notification]:
    """Create several notifications with a constant number of queries (one
    read of the recipients, one INSERT), and push each to its user after
    commit. Recipients who are not active, or who switched the type off in
    their profile, are skipped. Returns the created rows."""
    if not drafts:
        return []
    for draft in drafts:
        _validate(draft)
        draft.user_id = uuid.UUID(str(draft.user_id))
    recipients, languages = {}, {}
    for user_id, preferences, language in (
            User.objects.filter(id__in={d.user_id for d in drafts}, status=User.Status.ACTIVE)
            .values_list("id", "profile__notifications", "profile__language")):
        recipients[user_id], languages[user_id] = preferences, language
    now = timezone.now()
    rows = [
        Notification(
            user_id=d.user_id,
            type=d.type,
            title=excerpt(d.title, TITLE_MAX),
            message=(d.message or "")[:MESSAGE_MAX],
            data=d.data or {},
            priority=d.priority,
            expires_at=d.expires_at,
            created_at=now,
        )
        for d in drafts
        if d.user_id in recipients and not _opted_out(recipients[d.user_id], d.type)
    ]
    created = Notification.objects.bulk_create(rows)
    push(created, languages)
    return created


def notify(
    *,
    user: User,
    type: str,
    title: str,
    message: str = "",
    data: dict | None = None,
    priority: str = Priority.NORMAL,
    expires_at: datetime | None = None,
) -> Notification | None:
    """Notify one user; None when they are inactive or switched the type off."""
    created = notify_many(drafts=[Draft(user_id=user.pk, type=type, title=title, message=message, data=data or {},
                                        priority=priority, expires_at=expires_at)])
    return created[0] if created else None


# --------------------------------------------------------------------------- reading, archiving


def _push_unread(user: User) -> None:
    count = unread_count(user=user)
    broadcast.user_event(user.pk, {"type": FRAME_UNREAD, "unread": count, "badge": badge_text(count)})


@transaction.atomic
def notification_mark_read(*, user: User, notification_id) -> Notification:
    notification = notification_get(user=user, notification_id=notification_id, lock=True)
    if not notification.is_read:
        notification.is_read, notification.read_at = True, timezone.now()
        notification.save(update_fields=["is_read", "read_at"])
        _push_unread(user)
    return notification


@transaction.atomic
def notification_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the user read; returns how many."""
    count = Notification.objects.filter(user=user, is_read=False).update(is_read=True, read_at=timezone.now())
    if count:
        _push_unread(user)
    return count


@transaction.atomic
def notification_archive(*, user: User, notification_id, archived: bool = True) -> Notification:
    """Move a notification to the archive (or back). Archiving marks it read
    too: an archived notification never counts toward the badge."""
    notification = notification_get(user=user, notification_id=notification_id, lock=True)
    if notification.is_archived == archived:
        return notification
    # notification_get hides nothing by archive state, so unarchiving works.
    notification.is_archived = archived
    fields = ["is_archived"]
    if archived and not notification.is_read:
        notification.is_read, notification.read_at = True, timezone.now()
        fields += ["is_read", "read_at"]
    notification.save(update_fields=fields)
    _push_unread(user)
    return notification


# --------------------------------------------------------------------------- housekeeping


@transaction.atomic
def notifications_purge_expired(*, now: datetime | None = None) -> int:
    """Beat task body: delete notifications past their expiry (already
    invisible since that moment; idx_notifications_expires finds them)."""
    deleted, _count = Notification.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
