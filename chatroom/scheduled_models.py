"""A message written now and posted later ("send later"). Kept apart from
chatroom.models, which is at its size limit; chatroom.models imports it so
Django finds it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.db.models import Q


class ScheduledMessage(models.Model):
    """A message that ``author`` asked to post in ``room`` (in the thread of
    ``thread_id`` when set) at ``send_at``. The sender
    (chatroom.services.scheduled_send) posts it once through message_post
    and records the posted message (``message_id``, ``message_created_at``:
    a real composite foreign key, migration 0012) or, when the author may no
    longer post there, ``failed`` with ``error``."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.CASCADE, related_name="scheduled_messages")
    room = models.ForeignKey("chatroom.Room", verbose_name=_("room"), on_delete=models.CASCADE, related_name="+")
    thread_id = models.UUIDField(verbose_name=_("thread ID"), null=True, blank=True)
    content = models.TextField(verbose_name=_("content"))
    send_at = models.DateTimeField(verbose_name=_("send at"))
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    message_id = models.UUIDField(verbose_name=_("message ID"), null=True, blank=True)
    message_created_at = models.DateTimeField(verbose_name=_("message time"), null=True, blank=True)
    error = models.CharField(verbose_name=_("error"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled message")
        verbose_name_plural = _("scheduled messages")
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
        return gettext("%(id)s (%(status)s at %(time)s)") % {"id": self.id, "status": self.get_status_display(),
                                                              "time": f"{self.send_at:%Y-%m-%d %H:%M}"}
