"""Missed-message mail (issue 18), sending one: the outbox row
(MissedMessageMail) is locked, what it reports is checked again (read,
deleted or edited away since it was queued is left out; nothing left, no
mail), and the mail is composed in the user's language, with a text and an
HTML part and the one-click List-Unsubscribe headers, and sent.

A failure (SMTP down, refused, timing out) is recorded on the row (attempts,
last_error, next_attempt_at) and raised, so the Celery task retries it with
backoff; the beat scan sends again any pending row whose time has come, so a
lost task or retries run out delay the mail, never lose it. A mail is marked
sent only after the SMTP server took it."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import dnd, unsubscribe
from accounts.models import Notification, Profile, User
from chatroom.missed_mail import still_unread, wants_mail
from chatroom.models import MissedMessageMail
from core import coded_texts

Status = MissedMessageMail.Status


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class _Place:
    """A room named in the mail's language, whenever it is rendered."""

    def __init__(self, is_dm: bool, name: str):
        self.is_dm, self.name = is_dm, name

    def __str__(self) -> str:
        return coded_texts.place(is_dm=self.is_dm, room_name=self.name)


def _items(user: User, mail: MissedMessageMail) -> list[dict]:
    notifications = list(Notification.objects.filter(pk__in=mail.notification_ids, user=user).order_by("created_at"))
    out = []
    for n, m in still_unread(user.pk, notifications):
        room = m.room
        # core.coded_texts' words for a room, as the notifications' titles use
        # them; rendered (lazily) in the mail's language by compose().
        out.append({"room": _Place(room.is_dm, room.name), "author": m.user.username,
                    "text": m.content, "created_at": m.created_at,
                    "url": settings.SITE_URL + (n.data.get("url") or "") + f"#message-{m.id}",
                    "reason": n.type if n.type == Notification.Type.MENTION else n.data.get("reason")})
    return out


def compose(user: User, items: list[dict]) -> EmailMultiAlternatives:
    profile = Profile.objects.filter(user=user).first()
    language = profile.language if profile else "en"
    link = settings.SITE_URL + unsubscribe.url_for(user)
    with translation.override(language):
        context = {"user": user, "items": items, "unsubscribe_url": link, "site_url": settings.SITE_URL}
        subject = _("You have %(count)d unread messages on Teamhub") % {"count": len(items)} if len(items) > 1 \
            else _("%(author)s wrote to you on Teamhub") % {"author": items[0]["author"]}
        text = render_to_string("chatroom/email/missed_messages.txt", context)
        html = render_to_string("chatroom/email/missed_messages.html", context)
    mail = EmailMultiAlternatives(subject=subject, body=text, to=[user.email],
                                  headers={"List-Unsubscribe": f"<{link}>",
                                           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                                           "Auto-Submitted": "auto-generated", "Content-Language": language})
    mail.attach_alternative(html, "text/html")
    return mail


def deliver(mail_id) -> str:
    """Send one outbox mail; returns its status afterwards. Raises what the
    SMTP connection raised (after recording it), for the task to retry."""
    with transaction.atomic():
        mail = (MissedMessageMail.objects.select_for_update(skip_locked=True)
                .filter(pk=mail_id, status=Status.PENDING).first())
        if mail is None:
            return "skipped"  # sent, dropped, or being sent by another worker right now
        user = User.objects.filter(pk=mail.user_id, status=User.Status.ACTIVE).first()
        prefs = Profile.objects.filter(user_id=mail.user_id).values_list("preferences", flat=True).first()
        items = _items(user, mail) if user is not None and user.email and wants_mail(prefs) else []
        if items and dnd.state_of(user)["active"]:
            # DND began after it was queued: no mail (in-app notifications stay).
            items = []
        if not items:
            mail.status = Status.DROPPED
            mail.save(update_fields=["status"])
            return mail.status
        message = compose(user, items)
        try:
            get_connection(fail_silently=False).send_messages([message])
        except Exception as exc:  # noqa: BLE001 - any failure to hand it over is retried
            mail.attempts += 1
            mail.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            mail.next_attempt_at = timezone.now() + backoff(mail.attempts)
            mail.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            failure = exc
        else:
            mail.status, mail.sent_at, mail.attempts = Status.SENT, timezone.now(), mail.attempts + 1
            mail.save(update_fields=["status", "sent_at", "attempts"])
            return mail.status
    raise failure


def due_again(*, now=None) -> list:
    """Pending mails whose next attempt is due (the beat scan sends them)."""
    now = now or timezone.now()
    return [str(pk) for pk in MissedMessageMail.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at").values_list("pk", flat=True)[:500]]
