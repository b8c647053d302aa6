"""The audit trail (seeds 001 audit_logs and 004 audit_events).

Rows are written only by ``audit.services.audit_record``; a database trigger
refuses UPDATE and DELETE (see migration 0002). The table is range-partitioned
by month on ``created_at`` (django-postgres-extra 2.0.9, database primary key
``(id, created_at)``); monthly partitions are kept by ``core.partitions``.

What the chain covers (``audit.chain``, which also says why it is sound):
every column except the three foreign keys. Those are navigational links that Django sets to NULL when the
user or organization is deleted (SET_NULL), so they cannot be hashed; the
hashed identity is the snapshot taken at write time (``actor_username``,
``acting_for_username``, ``org_name``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import Q
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod


class AuditLog(PostgresPartitionedModel):
    class Result(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        ERROR = "error", _("Error")

    class Level(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")
        CRITICAL = "critical", _("Critical")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Set by audit_record under the chain lock from the database clock, so it
    # increases strictly along the chain (the chain order is created_at order).
    created_at = models.DateTimeField(verbose_name=_("created at"))

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(verbose_name=_("actor username"), max_length=150, blank=True)
    # The principal, when the actor acts for someone through a proxy.
    acting_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("acting for"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acting_for_username = models.CharField(verbose_name=_("acting for username"), max_length=150, blank=True)
    org = models.ForeignKey("orgs.Organization", verbose_name=_("organization"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    org_name = models.CharField(verbose_name=_("organization name"), max_length=100, blank=True)

    # A dotted code: auth.login.failed, room.member.kicked, job.cancelled, ...
    action = models.CharField(verbose_name=_("action"), max_length=100)
    resource_type = models.CharField(verbose_name=_("resource type"), max_length=50, blank=True)
    resource_id = models.CharField(verbose_name=_("resource ID"), max_length=255, blank=True)
    result = models.CharField(verbose_name=_("result"), max_length=20, choices=Result.choices, default=Result.SUCCESS)
    level = models.CharField(verbose_name=_("level"), max_length=20, choices=Level.choices, default=Level.INFO)

    request_id = models.CharField(verbose_name=_("request ID"), max_length=100, blank=True)
    ip = models.GenericIPAddressField(verbose_name=_("IP address"), null=True, blank=True)
    user_agent = models.TextField(verbose_name=_("user agent"), blank=True)
    # Old and new values where a change happened.
    details = models.JSONField(verbose_name=_("details"), default=dict, blank=True)

    prev_hash = models.CharField(verbose_name=_("previous hash"), max_length=64)
    hash = models.CharField(verbose_name=_("hash"), max_length=64)
    signature = models.CharField(verbose_name=_("signature"), max_length=64)
    # Which definition of hash and signature the entry follows (audit.chain):
    # 1 for entries written before migration 0004, 2 since.
    chain_version = models.PositiveSmallIntegerField(verbose_name=_("chain version"), default=2)
    # The chain the entry is linked into: "" for the main one, or a lane of
    # its own such as "room:<id>" for one room's posts (audit.chain, "Lanes").
    lane = models.CharField(verbose_name=_("lane"), max_length=64, blank=True, default="")

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        db_table = "audit_logs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(result__in=["success", "failure", "error"]), name="audit_logs_result_check"),
            models.CheckConstraint(
                condition=Q(level__in=["info", "warning", "error", "critical"]), name="audit_logs_level_check"
            ),
        ]
        indexes = [
            # The chain order; also serves "newest first" and date ranges.
            models.Index(fields=["created_at", "id"], name="idx_audit_logs_chain"),
            # Each lane's head, read under its lock by every append.
            models.Index(fields=["lane", "created_at", "id"], name="idx_audit_logs_lane"),
            models.Index(fields=["actor", "created_at"], name="idx_audit_logs_actor"),
            models.Index(fields=["org", "created_at"], name="idx_audit_logs_org"),
            models.Index(fields=["action", "created_at"], name="idx_audit_logs_action"),
            models.Index(fields=["resource_type", "resource_id"], name="idx_audit_logs_resource"),
            models.Index(fields=["request_id"], name="idx_audit_logs_request", condition=~Q(request_id="")),
        ]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"
