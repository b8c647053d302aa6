"""Operations data (seeds 000 and 002): daily statistics, per-user daily
statistics, per-process system metrics (partitioned monthly) and system
events. Written by ``ops.services``; read by ``ops.selectors``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.db.models import Q
from django.db.models.functions import Now
from psqlextra.manager import PostgresManager
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

# Seed 000's system_metrics_name_check.
METRIC_NAMES = (
    "cpu_usage", "memory_usage", "disk_usage", "network_io",
    "active_connections", "message_rate", "error_rate", "response_time",
)


class DailyStat(models.Model):
    """Seed 000 daily_stats: one row per UTC day (ops.services.daily_stats)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stat_date = models.DateField(verbose_name=_("date"))
    total_users = models.IntegerField(verbose_name=_("total users"), default=0)
    active_users = models.IntegerField(verbose_name=_("active users"), default=0)
    new_users = models.IntegerField(verbose_name=_("new users"), default=0)
    total_rooms = models.IntegerField(verbose_name=_("total rooms"), default=0)
    new_rooms = models.IntegerField(verbose_name=_("new rooms"), default=0)
    total_messages = models.IntegerField(verbose_name=_("total messages"), default=0)
    new_messages = models.IntegerField(verbose_name=_("new messages"), default=0)
    storage_used_bytes = models.BigIntegerField(verbose_name=_("storage used bytes"), default=0)
    created_at = models.DateTimeField(verbose_name=_("created at"), db_default=Now())

    class Meta:
        verbose_name = _("daily statistics")
        verbose_name_plural = _("daily statistics")
        db_table = "daily_stats"
        ordering = ["stat_date"]
        constraints = [models.UniqueConstraint(fields=["stat_date"], name="daily_stats_unique")]

    def __str__(self) -> str:
        return gettext("daily statistics, %(date)s") % {"date": self.stat_date}


class UserStatistic(models.Model):
    """Seed 002 user_statistics, with this product's measures: one row per
    user per UTC day."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="daily_statistics")
    date = models.DateField(verbose_name=_("date"))
    messages_sent = models.IntegerField(verbose_name=_("messages sent"), default=0)
    files_uploaded = models.IntegerField(verbose_name=_("files uploaded"), default=0)
    bytes_transferred = models.BigIntegerField(verbose_name=_("bytes transferred"), default=0)
    jobs_run = models.IntegerField(verbose_name=_("jobs run"), default=0)
    online_seconds = models.IntegerField(verbose_name=_("online seconds"), default=0)
    created_at = models.DateTimeField(verbose_name=_("created at"), db_default=Now())

    class Meta:
        verbose_name = _("user statistics")
        verbose_name_plural = _("user statistics")
        db_table = "user_statistics"
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["user", "date"], name="user_statistics_unique")]
        indexes = [models.Index(fields=["date"], name="idx_user_statistics_date")]

    def __str__(self) -> str:
        return gettext("statistics of %(user)s on %(date)s") % {"user": self.user_id, "date": self.date}


class SystemMetric(PostgresPartitionedModel):
    """Seed 000 system_metrics: one value per metric per process per minute.
    The seed's ``timestamp`` is ``created_at`` here, the partition key that
    core.partitions maintains (the API calls it ``timestamp``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    metric_name = models.CharField(verbose_name=_("metric name"), max_length=100)
    metric_value = models.FloatField(verbose_name=_("value"))
    tags = models.JSONField(verbose_name=_("tags"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    server_id = models.CharField(verbose_name=_("server ID"), max_length=100, blank=True, default="")

    objects = PostgresManager()

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    class Meta:
        verbose_name = _("system metric")
        verbose_name_plural = _("system metrics")
        db_table = "system_metrics"
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(metric_name__in=METRIC_NAMES), name="system_metrics_name_check"),
        ]
        indexes = [
            models.Index(fields=["metric_name", "-created_at"], name="idx_system_metrics_name_time"),
            models.Index(fields=["server_id", "-created_at"], name="idx_system_metrics_server"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_name}={self.metric_value} ({self.server_id})"


class SystemEvent(models.Model):
    """Seed 002 system_events: what the system did (process start and stop,
    migrations, maintenance runs, partitions, anchors, verification, a
    worker lost). Not the audit trail, which says what people did."""

    class Type(models.TextChoices):
        PROCESS = "process", _("Process")
        MIGRATION = "migration", _("Migration")
        MAINTENANCE = "maintenance", _("Maintenance run")
        PARTITION = "partition", _("Partition")
        AUDIT = "audit", _("Audit chain")
        WORKER = "worker", _("Worker")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(verbose_name=_("event type"), max_length=100, choices=Type.choices)
    event_name = models.CharField(verbose_name=_("event name"), max_length=100)
    resource_type = models.CharField(verbose_name=_("resource type"), max_length=50, blank=True, default="")
    resource_id = models.UUIDField(verbose_name=_("resource ID"), null=True, blank=True)
    user_id = models.UUIDField(verbose_name=_("user ID"), null=True, blank=True)
    session_id = models.UUIDField(verbose_name=_("session ID"), null=True, blank=True)
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)
    metadata = models.JSONField(verbose_name=_("metadata"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(verbose_name=_("IP address"), null=True, blank=True)
    user_agent = models.TextField(verbose_name=_("user agent"), blank=True, default="")
    referrer_url = models.TextField(verbose_name=_("referrer URL"), blank=True, default="")
    created_at = models.DateTimeField(verbose_name=_("created at"), db_default=Now())

    class Meta:
        verbose_name = _("system event")
        verbose_name_plural = _("system events")
        db_table = "system_events"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["event_type", "-created_at"], name="idx_system_events_type"),
            models.Index(fields=["event_name", "-created_at"], name="idx_system_events_name"),
            models.Index(fields=["-created_at"], name="idx_system_events_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type}.{self.event_name}"


# performance_metrics' metric names (ops.sampler writes them).
HTTP_REQUEST_DURATION = "http_request_duration"  # per view: tags["view"]
FANOUT_LATENCY = "fanout_latency"  # a message's stamp to its send to a socket


class PerformanceMetric(PostgresPartitionedModel):
    """Seed 002 performance_metrics: latency this product measures, one row
    per minute per process per endpoint (and per process for the channel
    layer's fan-out), written by the sampler in the same minute batch as
    system_metrics (ops.sampler), never per request.

    ``value`` is the minute's p95 in ``unit`` (ms) for a histogram; ``tags``
    carries the rest of the minute: ``count``, ``errors``, ``p50``, ``max``,
    ``view`` (the route's name), ``server_id`` and ``kind``. The seed's
    ``timestamp`` is ``created_at`` here, the partition key (partitioned
    monthly like system_metrics, with the same METRICS_RETENTION_MONTHS)."""

    class Type(models.TextChoices):
        COUNTER = "counter", _("Counter")
        GAUGE = "gauge", _("Gauge")
        HISTOGRAM = "histogram", _("Histogram")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    metric_name = models.CharField(verbose_name=_("metric name"), max_length=100)
    metric_type = models.CharField(verbose_name=_("metric type"), max_length=50, choices=Type.choices)
    service_name = models.CharField(verbose_name=_("service name"), max_length=100)
    value = models.DecimalField(verbose_name=_("value"), max_digits=15, decimal_places=6)
    unit = models.CharField(verbose_name=_("unit"), max_length=20, blank=True, default="")
    tags = models.JSONField(verbose_name=_("tags"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))

    objects = PostgresManager()

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    class Meta:
        verbose_name = _("performance metric")
        verbose_name_plural = _("performance metrics")
        db_table = "performance_metrics"
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(metric_type__in=["counter", "gauge", "histogram"]),
                                   name="performance_metrics_type_check"),
        ]
        # The seed's four indexes (Django caps index names at 30 characters).
        # Every read is bounded in time, so the name and service indexes
        # carry the time too, as system_metrics' do.
        indexes = [
            models.Index(fields=["metric_name", "-created_at"], name="idx_perf_metrics_name"),
            models.Index(fields=["service_name", "-created_at"], name="idx_perf_metrics_service"),
            models.Index(fields=["-created_at"], name="idx_perf_metrics_created_at"),
            GinIndex(fields=["tags"], name="idx_perf_metrics_tags"),
        ]

    def __str__(self) -> str:
        return f"{self.service_name}.{self.metric_name}={self.value}{self.unit}"
