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
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

REMOTE_NAME_RE = r"^[A-Za-z0-9_]{1,64}$"
PERMISSIONS = ("read", "write", "delete", "admin")


class Remote(models.Model):
    class Type(models.TextChoices):
        LOCAL = "local", "Local directory"
        S3 = "s3", "S3"
        WEBDAV = "webdav", "WebDAV"
        SFTP = "sftp", "SFTP"
        FTP = "ftp", "FTP"
        HTTP = "http", "HTTP"
        MEMORY = "memory", "Memory"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The name is the rclone config section and the "<name>:" of every remote
    # string, so it is restricted to characters that cannot break either.
    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(REMOTE_NAME_RE, "Use 1-64 letters, digits or underscores.")],
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    # Non-secret backend options, in clear.
    options = models.JSONField(default=dict, blank=True)
    # Secret backend options: a Fernet token of their JSON (jobs.secrets).
    # Never rendered by the API, the admin or logs.
    secret_options = models.TextField(blank=True, default="")
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "remotes"
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
    remote = models.ForeignKey(Remote, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="remote_grants"
    )
    role = models.ForeignKey("orgs.Role", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    department = models.ForeignKey(
        "orgs.Department", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    permissions = models.JSONField(default=list, blank=True)
    # [{"path": "/public/*", "allow": ["read"], "deny": ["delete"]}]; deny wins.
    path_rules = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "remote_permissions"
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
        COPY = "copy", "Copy"
        MOVE = "move", "Move"
        DELETE = "delete", "Delete"
        SYNC = "sync", "Sync"
        BACKUP = "backup", "Backup"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    objects = JobQuerySet.as_manager()

    ACTIVE = (Status.PENDING, Status.QUEUED, Status.RUNNING)
    STARTABLE = (Status.PENDING, Status.QUEUED)
    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # 10 is the most urgent.
    priority = models.IntegerField(default=5, validators=[MinValueValidator(1), MaxValueValidator(10)])
    progress = models.IntegerField(default=0, validators=[MinValueValidator(0), MaxValueValidator(100)])
    # {"source": {"remote", "path"}, "destination": {...} | null, "options": {...}}
    payload = models.JSONField()
    # The latest stats: bytes, total_bytes, speed, eta, transfers, ... and
    # "transferring" (the current files) while running.
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    retry_count = models.IntegerField(default=0)
    max_retries = models.IntegerField(default=3, validators=[MinValueValidator(0), MaxValueValidator(10)])
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # Set when a cancel is asked for a running job; the runner stops rclone.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, default="")
    # The fence of the current run: a new token at each claim, cleared when
    # the job leaves ``running``. Every write of a runner (heartbeat,
    # progress, logs, final status) is conditional on its token, so a runner
    # whose job was recovered and handed to another run can change nothing,
    # and learns from the refusal that it must kill its rclone.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    # The runner's last sign of life, on the database's clock (the sweep
    # compares it with the same clock).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the job's latest Celery task becomes deliverable: the enqueue time,
    # or its countdown/eta. A startable job still unclaimed well after this
    # lost its task (broker flushed, worker died before claiming) and is
    # re-enqueued by the beat sweep (services.job_requeue_lost).
    task_due_at = models.DateTimeField(null=True, blank=True)
    # The schedule run this job came from: (schedule, schedule_run_at) is
    # unique, so one run time creates one job even with two beat processes.
    schedule = models.ForeignKey(
        "ScheduleRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    schedule_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "jobs"
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
        return f"{self.type} {self.id} ({self.status})"

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
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"
        FATAL = "fatal", "Fatal"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs")
    level = models.CharField(max_length=10, choices=Level.choices)
    message = models.TextField()
    details = models.JSONField(null=True, blank=True)

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    class Meta:
        db_table = "job_logs"
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
        CRON = "cron", "Cron"
        INTERVAL = "interval", "Interval"
        ONCE = "once", "Once"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_schedules")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    rule_type = models.CharField(max_length=20, choices=RuleType.choices)
    cron_expression = models.CharField(max_length=100, null=True, blank=True)
    interval_seconds = models.IntegerField(null=True, blank=True, validators=[MinValueValidator(60)])
    run_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    # {"type", "source", "destination", "options", "priority"}: a job submission.
    job_template = models.JSONField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "schedule_rules"
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
