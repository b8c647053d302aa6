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
from django.db.models import Q


class MissedMailCursor(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="+")
    scanned_until = models.DateTimeField()

    class Meta:
        db_table = "chat_missed_mail_cursors"


class MissedMessageMail(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        DROPPED = "dropped", "Dropped"  # everything in it was read, deleted or edited away meanwhile

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notification_ids = ArrayField(models.UUIDField())
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_missed_message_mails"
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                                name="idx_missed_mails_pending")]
