"""A message written now and posted later ("send later"). Kept apart from
chatroom.models, which is at its size limit; chatroom.models imports it so
Django finds it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ScheduledMessage(models.Model):
    """A message that ``author`` asked to post in ``room`` (in the thread of
    ``thread_id`` when set) at ``send_at``. The sender
    (chatroom.services.scheduled_send) posts it once through message_post
    and records the posted message (``message_id``, ``message_created_at``:
    a real composite foreign key, migration 0012) or, when the author may no
    longer post there, ``failed`` with ``error``."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_messages")
    room = models.ForeignKey("chatroom.Room", on_delete=models.CASCADE, related_name="+")
    thread_id = models.UUIDField(null=True, blank=True)
    content = models.TextField()
    send_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    message_id = models.UUIDField(null=True, blank=True)
    message_created_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scheduled_messages"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["scheduled", "sent", "failed", "cancelled"]),
                                   name="scheduled_messages_status_check"),
            models.CheckConstraint(
                condition=Q(message_id__isnull=True, message_created_at__isnull=True)
                | Q(message_id__isnull=False, message_created_at__isnull=False),
                name="scheduled_messages_message_pair_check",
            ),
        ]
        indexes = [
            # The due-scan: only rows still waiting, by time.
            models.Index(fields=["send_at"], condition=Q(status="scheduled"), name="idx_scheduled_due"),
            models.Index(fields=["author", "status", "send_at"], name="idx_scheduled_author"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status} at {self.send_at:%Y-%m-%d %H:%M})"
