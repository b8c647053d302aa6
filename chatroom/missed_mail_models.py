"""The missed-message mail's tables (issue 18; imported by chatroom.models).

- MissedMailCursor: per user, the time up to which their notifications were
  considered for a mail, so each is considered once however often the scan
  runs, and a scan that dies half way repeats nothing it committed.
- MissedMessageMail: the outbox. One row per mail to send: the notifications
  it reports, its state and delivery attempts. A mail is written before it is
  sent and marked sent after, so a failing SMTP server (or a lost task)
  delays it, and the beat task sends it again, never loses it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import Q


class MissedMailCursor(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, primary_key=True,
                                related_name="+")
    scanned_until = models.DateTimeField(verbose_name=_("scanned until"))

    class Meta:
        verbose_name = _("missed-message mail cursor")
        verbose_name_plural = _("missed-message mail cursors")
        db_table = "chat_missed_mail_cursors"


class MissedMessageMail(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        DROPPED = "dropped", _("Dropped")  # everything in it was read, deleted or edited away meanwhile

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    notification_ids = ArrayField(models.UUIDField(), verbose_name=_("notification IDs"))
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"))
    last_error = models.TextField(verbose_name=_("last error"), blank=True, default="")
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("missed-message mail")
        verbose_name_plural = _("missed-message mails")
        db_table = "chat_missed_message_mails"
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                                name="idx_missed_mails_pending")]
