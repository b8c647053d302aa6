"""rclone jobs (seed 001): remotes, per-remote permissions with path rules,
jobs, job logs (partitioned monthly) and schedule rules.

Writes go through ``jobs.services``; path and permission rules live in
``jobs.access``; the rclone subprocess in ``jobs.runner``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

REMOTE_NAME_RE = r"^[A-Za-z0-9_]{1,64}$"
PERMISSIONS = ("read", "write", "delete", "admin")
# The permissions as people read them (the codes above are the API's).
PERMISSION_CHOICES = (("read", _("read")), ("write", _("write")), ("delete", _("delete")), ("admin", _("admin")))


class Remote(models.Model):
    class Type(models.TextChoices):
        LOCAL = "local", _("Local directory")
        S3 = "s3", "S3"
        WEBDAV = "webdav", "WebDAV"
        SFTP = "sftp", "SFTP"
        FTP = "ftp", "FTP"
        HTTP = "http", "HTTP"
        MEMORY = "memory", _("Memory")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The name is the rclone config section and the "<name>:" of every remote
    # string, so it is restricted to characters that cannot break either.
    name = models.CharField(verbose_name=_("name"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(REMOTE_NAME_RE, _("Use 1-64 letters, digits or underscores."))],
    )
    type = models.CharField(verbose_name=_("type"), max_length=20, choices=Type.choices)
    # Non-secret backend options, in clear.
    options = models.JSONField(verbose_name=_("options"), default=dict, blank=True)
    # Secret backend options: a Fernet token of their JSON (jobs.secrets).
    # Never rendered by the API, the admin or logs.
    secret_options = models.TextField(verbose_name=_("secret options"), blank=True, default="")
    description = models.TextField(verbose_name=_("description"), blank=True)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        db_table = "remotes"
        verbose_name = _("remote")
        verbose_name_plural = _("remotes")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=REMOTE_NAME_RE), name="remotes_name_check"),
            models.CheckConstraint(
                condition=Q(type__in=["local", "s3", "webdav", "sftp", "ftp", "http", "memory"]),
                name="remotes_type_check",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RemotePermission(models.Model):
    """The seed's permissions table. A grant goes to exactly one of: a user,
    an org role (every active member holding it), or a department (every
    active member in it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    remote = models.ForeignKey(Remote, verbose_name=_("remote"), on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, null=True, blank=True, related_name="remote_grants"
    )
    role = models.ForeignKey("orgs.Role", verbose_name=_("role"), on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    department = models.ForeignKey(
        "orgs.Department", verbose_name=_("department"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    permissions = models.JSONField(verbose_name=_("permissions"), default=list, blank=True)
    # [{"path": "/public/*", "allow": ["read"], "deny": ["delete"]}]; deny wins.
    path_rules = models.JSONField(verbose_name=_("path rules"), default=list, blank=True)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        db_table = "remote_permissions"
        verbose_name = _("remote grant")
        verbose_name_plural = _("remote grants")
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, role__isnull=True, department__isnull=True)
                    | Q(user__isnull=True, role__isnull=False, department__isnull=True)
                    | Q(user__isnull=True, role__isnull=True, department__isnull=False)
                ),
                name="remote_permissions_one_grantee",
            ),
            models.UniqueConstraint(fields=["user", "remote"], name="remote_permissions_unique_user_remote"),
            models.UniqueConstraint(fields=["role", "remote"], name="remote_permissions_unique_role_remote"),
            models.UniqueConstraint(
                fields=["department", "remote"], name="remote_permissions_unique_department_remote"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "remote"], name="idx_permissions_user_remote"),
            models.Index(fields=["remote"], name="idx_permissions_remote", condition=Q(is_active=True)),
        ]


class JobQuerySet(models.QuerySet):
    def runner_gone(self, stale_after: timedelta | None = None):
        """Running jobs whose heartbeat is older than JOBS_STALE_SECONDS (on
        the database's clock). Their runner is dead, or gave up and stopped
        its rclone (it does so after JOBS_RUNNER_GIVE_UP_SECONDS without a
        heartbeat, which settings keep below the threshold): no rclone of
        theirs can still run."""
        stale_after = timedelta(seconds=settings.JOBS_STALE_SECONDS) if stale_after is None else stale_after
        cutoff = Now() - stale_after
        return self.filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
                           status=Job.Status.RUNNING)


class Job(models.Model):
    class Type(models.TextChoices):
        COPY = "copy", _("Copy")
        MOVE = "move", _("Move")
        DELETE = "delete", _("Delete")
        SYNC = "sync", _("Sync")
        BACKUP = "backup", _("Backup")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    objects = JobQuerySet.as_manager()

    ACTIVE = (Status.PENDING, Status.QUEUED, Status.RUNNING)
    STARTABLE = (Status.PENDING, Status.QUEUED)
    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="jobs")
    type = models.CharField(verbose_name=_("type"), max_length=20, choices=Type.choices)
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    # 10 is the most urgent.
    priority = models.IntegerField(verbose_name=_("priority"), default=5, validators=[MinValueValidator(1), MaxValueValidator(10)])
    progress = models.IntegerField(verbose_name=_("progress"), default=0, validators=[MinValueValidator(0), MaxValueValidator(100)])
    # {"source": {"remote", "path"}, "destination": {...} | null, "options": {...}}
    payload = models.JSONField(verbose_name=_("job"))
    # The latest stats: bytes, total_bytes, speed, eta, transfers, ... and
    # "transferring" (the current files) while running.
    result = models.JSONField(verbose_name=_("latest stats"), null=True, blank=True)
    error = models.TextField(verbose_name=_("error"), blank=True, default="")
    retry_count = models.IntegerField(verbose_name=_("retries so far"), default=0)
    max_retries = models.IntegerField(verbose_name=_("max retries"), default=3, validators=[MinValueValidator(0), MaxValueValidator(10)])
    scheduled_for = models.DateTimeField(verbose_name=_("scheduled for"), null=True, blank=True)
    # Set when a cancel is asked for a running job; the runner stops rclone.
    cancel_requested_at = models.DateTimeField(verbose_name=_("cancel requested at"), null=True, blank=True)
    worker = models.CharField(verbose_name=_("worker"), max_length=255, blank=True, default="")
    # The fence of the current run: a new token at each claim, cleared when
    # the job leaves ``running``. Every write of a runner (heartbeat,
    # progress, logs, final status) is conditional on its token, so a runner
    # whose job was recovered and handed to another run can change nothing,
    # and learns from the refusal that it must kill its rclone.
    run_token = models.UUIDField(verbose_name=_("run token"), null=True, blank=True, editable=False)
    # The runner's last sign of life, on the database's clock (the sweep
    # compares it with the same clock).
    heartbeat_at = models.DateTimeField(verbose_name=_("last heartbeat"), null=True, blank=True)
    # When the job's latest Celery task becomes deliverable: the enqueue time,
    # or its countdown/eta. A startable job still unclaimed well after this
    # lost its task (broker flushed, worker died before claiming) and is
    # re-enqueued by the beat sweep (services.job_requeue_lost).
    task_due_at = models.DateTimeField(verbose_name=_("task due at"), null=True, blank=True)
    # The schedule run this job came from: (schedule, schedule_run_at) is
    # unique, so one run time creates one job even with two beat processes.
    schedule = models.ForeignKey(
        "ScheduleRule", verbose_name=_("schedule"), on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    schedule_run_at = models.DateTimeField(verbose_name=_("schedule run time"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(verbose_name=_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(verbose_name=_("cancelled at"), null=True, blank=True)

    class Meta:
        db_table = "jobs"
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["copy", "move", "delete", "sync", "backup"]), name="jobs_type_check"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "queued", "running", "completed", "failed", "cancelled"]),
                name="jobs_status_check",
            ),
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=100), name="jobs_progress_check"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=10), name="jobs_priority_check"),
            models.CheckConstraint(
                condition=(Q(started_at__isnull=True) | Q(started_at__gte=models.F("created_at")))
                & (Q(completed_at__isnull=True) | Q(started_at__isnull=True) | Q(completed_at__gte=models.F("started_at"))),
                name="jobs_dates_check",
            ),
            models.UniqueConstraint(
                fields=["schedule", "schedule_run_at"],
                condition=Q(schedule__isnull=False),
                name="jobs_unique_schedule_run",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "created_at"], name="idx_jobs_user_created"),
            models.Index(fields=["status"], name="idx_jobs_status", condition=Q(status__in=["pending", "queued", "running"])),
            models.Index(fields=["type", "status"], name="idx_jobs_type_status"),
            models.Index(fields=["-created_at"], name="idx_jobs_created_at"),
            models.Index(fields=["scheduled_for"], name="idx_jobs_scheduled", condition=Q(scheduled_for__isnull=False)),
            models.Index(fields=["heartbeat_at"], name="idx_jobs_running_heartbeat", condition=Q(status="running")),
        ]

    def __str__(self) -> str:
        return gettext("%(type)s %(id)s (%(status)s)") % {"type": self.get_type_display(), "id": self.id,
                                                          "status": self.get_status_display()}

    @property
    def source(self) -> dict:
        return self.payload.get("source") or {}

    @property
    def destination(self) -> dict | None:
        return self.payload.get("destination")

    @property
    def options(self) -> dict:
        return self.payload.get("options") or {}


class JobLog(PostgresPartitionedModel):
    class Level(models.TextChoices):
        DEBUG = "debug", _("Debug")
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")
        FATAL = "fatal", _("Fatal")

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    job = models.ForeignKey(Job, verbose_name=_("job"), on_delete=models.CASCADE, related_name="logs")
    level = models.CharField(verbose_name=_("level"), max_length=10, choices=Level.choices)
    message = models.TextField(verbose_name=_("message"))
    details = models.JSONField(verbose_name=_("details"), null=True, blank=True)

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    class Meta:
        db_table = "job_logs"
        verbose_name = _("job log line")
        verbose_name_plural = _("job log")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=["debug", "info", "warning", "error", "fatal"]), name="job_logs_level_check"
            ),
        ]
        indexes = [
            models.Index(fields=["job", "id"], name="idx_job_logs_job_id"),
            models.Index(fields=["level"], name="idx_job_logs_level", condition=Q(level__in=["error", "fatal"])),
            models.Index(fields=["-created_at"], name="idx_job_logs_created"),
        ]


class ScheduleRule(models.Model):
    class RuleType(models.TextChoices):
        CRON = "cron", _("Cron")
        INTERVAL = "interval", _("Interval")
        ONCE = "once", _("Once")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="job_schedules")
    name = models.CharField(verbose_name=_("name"), max_length=255)
    description = models.TextField(verbose_name=_("description"), blank=True)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    rule_type = models.CharField(verbose_name=_("rule type"), max_length=20, choices=RuleType.choices)
    cron_expression = models.CharField(verbose_name=_("cron expression"), max_length=100, null=True, blank=True)
    interval_seconds = models.IntegerField(verbose_name=_("interval (seconds)"), null=True, blank=True, validators=[MinValueValidator(60)])
    run_at = models.DateTimeField(verbose_name=_("run at"), null=True, blank=True)
    timezone = models.CharField(verbose_name=_("time zone"), max_length=64, default="UTC")
    # {"type", "source", "destination", "options", "priority"}: a job submission.
    job_template = models.JSONField(verbose_name=_("job template"))
    last_run_at = models.DateTimeField(verbose_name=_("last run at"), null=True, blank=True)
    next_run_at = models.DateTimeField(verbose_name=_("next run at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        db_table = "schedule_rules"
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(rule_type__in=["cron", "interval", "once"]), name="schedule_rules_type_check"),
            models.CheckConstraint(
                condition=(
                    Q(rule_type="cron", cron_expression__isnull=False)
                    | Q(rule_type="interval", interval_seconds__isnull=False)
                    | Q(rule_type="once", run_at__isnull=False)
                ),
                name="schedule_rules_cron_or_interval_check",
            ),
        ]
        indexes = [
            models.Index(fields=["user"], name="idx_schedule_rules_user", condition=Q(is_active=True)),
            models.Index(fields=["next_run_at"], name="idx_schedule_rules_next_run", condition=Q(is_active=True)),
        ]

    def __str__(self) -> str:
        return self.name
