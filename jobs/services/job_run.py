"""A run's writes, made by the worker (actor: the system): the claim, the
heartbeat with progress, and the outcome.

The worker claims a job with one conditional UPDATE, so a duplicate
delivery finds nothing to claim. The claim gives the run a token
(``run_token``); every later write of that run is conditional on it and
raises ``RunSuperseded`` once the job has been handed to another run.
"""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import notifications
from audit.services import audit_record
from core.errors import NotFound
from jobs import locks, realtime
from jobs.dispatch import enqueue_on_commit
from jobs.models import Job


class RunSuperseded(Exception):
    """A runner's write was refused: its run token is no longer the job's
    (the job was recovered from a stale heartbeat and may run elsewhere)."""


def locked_job(job_id) -> Job:
    job = Job.objects.select_for_update().filter(id=job_id).first()
    if job is None:
        raise NotFound(_("No such job."))
    return job


@transaction.atomic
def job_claim(*, job_id, worker: str, run_token: uuid.UUID | None = None) -> Job | None:
    """Take a due pending/queued job for this worker, or None when another
    delivery already took it (or it was cancelled). One UPDATE ... WHERE
    status IN (pending, queued) RETURNING: exactly one claimant wins. The
    run gets ``run_token`` (a new one if not given); the returned job carries
    it, and the first heartbeat is the claim's, on the database's clock."""
    now = timezone.now()
    rows = list(
        Job.objects.raw(
            "UPDATE jobs SET status = 'running', started_at = %s, worker = %s, heartbeat_at = now(), "
            "run_token = %s, cancel_requested_at = NULL, progress = 0 "
            "WHERE id = %s AND status IN ('pending', 'queued') AND (scheduled_for IS NULL OR scheduled_for <= %s) "
            "RETURNING *",
            [now, worker[:255], run_token or uuid.uuid4(), job_id, now],
        )
    )
    if not rows:
        return None
    job = rows[0]
    audit_record(action="job.started", actor=None, resource_type="job", resource_id=str(job.id),
                 details={"worker": worker, "attempt": job.retry_count + 1})
    realtime.job_progress(job)
    return job


_HEARTBEAT_SQL = """
UPDATE jobs SET heartbeat_at = now() {progress}
WHERE id = %s AND run_token = %s AND status = 'running'
RETURNING cancel_requested_at IS NOT NULL
"""


@transaction.atomic
def job_heartbeat(*, job: Job, run_token, progress: int | None = None, stats: dict | None = None) -> bool:
    """The runner's sign of life (on the database's clock), with its latest
    progress when it has one (broadcast live; not a state change: no audit
    entry). Returns whether a cancel was asked for (the runner's way to learn
    of it when Redis is away). Raises RunSuperseded if the run lost the job."""
    params: list = []
    sets = ""
    if progress is not None:
        sets, params = ", progress = %s, result = %s::jsonb", [progress, json.dumps(stats)]
    with connection.cursor() as cursor:
        cursor.execute(_HEARTBEAT_SQL.format(progress=sets), [*params, job.id, run_token])
        row = cursor.fetchone()
    if row is None:
        raise RunSuperseded(str(job.id))
    if progress is not None:
        job.progress, job.result = progress, stats
        realtime.job_progress(job)
    return bool(row[0])


@transaction.atomic
def job_finish(*, job: Job, ok: bool, cancelled: bool = False, stats: dict | None = None, error: str = "",
               temporary: bool = False, run_token=None) -> Job:
    """Record how a run ended: completed, cancelled, retried later (a
    temporary failure with retries left) or failed. With ``run_token`` (the
    runner's) nothing changes unless the run still holds the job; without
    one, a running job is finished whoever runs it. Idempotent: a job no
    longer running (finished already, or recovered) is returned as it is."""
    job = locked_job(job.id)
    if job.status != Job.Status.RUNNING or (run_token is not None and job.run_token != run_token):
        return job  # recovered or finished by someone else meanwhile
    now = timezone.now()
    if stats:
        job.result = stats
    countdown = None
    job.run_token = None
    if cancelled:
        job.status, job.cancelled_at = Job.Status.CANCELLED, now
        action, level, details = "job.cancelled", "info", {"from": "running"}
    elif ok:
        job.status, job.completed_at, job.progress, job.error = Job.Status.COMPLETED, now, 100, ""
        action, level, details = "job.completed", "info", {"stats": _audit_stats(stats)}
    elif temporary and job.retry_count < job.max_retries:
        countdown = settings.JOBS_RETRY_BASE_SECONDS * (2 ** job.retry_count)
        job.status, job.error, job.retry_count = Job.Status.QUEUED, error, job.retry_count + 1
        job.started_at, job.worker, job.heartbeat_at = None, "", None
        action, level, details = "job.retry_scheduled", "warning", {"error": error, "retry_count": job.retry_count,
                                                                   "countdown": countdown}
    else:
        job.status, job.completed_at, job.error = Job.Status.FAILED, now, error or "Failed."
        action, level, details = "job.failed", "error", {"error": job.error, "temporary": temporary}
    job.save()
    audit_record(action=action, actor=None, resource_type="job", resource_id=str(job.id), level=level,
                 result="success" if job.status != Job.Status.FAILED else "failure", details=details)
    if countdown is not None:
        enqueue_on_commit(job, countdown=countdown)
    notify_owner(job)
    job_id, status, job_type = job.id, job.status, job.type
    transaction.on_commit(lambda: _after_finish(job_id, status, job_type))
    realtime.job_progress(job)
    return job


def _audit_stats(stats):
    if not stats:
        return None
    return {k: stats.get(k) for k in ("bytes", "transfers", "errors", "checks", "deletes")}


def notify_owner(job: Job) -> None:
    """job_finished / job_failed to the owner, in the transaction that sets
    the final status (so a rollback takes the notification with it). A
    cancel, or a retry still to come, is not an outcome to report."""
    if job.status == Job.Status.COMPLETED:
        kind, priority = notifications.Type.JOB_FINISHED, "normal"
    elif job.status == Job.Status.FAILED:
        kind, priority = notifications.Type.JOB_FAILED, "high"
    else:
        return
    # The title stored as a code (core.coded_texts), read in the owner's language.
    title, spec = notifications.coded(str(kind), job_type=job.type)
    ends = [(job.payload or {}).get(end) for end in ("source", "destination")]
    where = " → ".join(f"{e.get('remote')}:{e.get('path')}" for e in ends if isinstance(e, dict))
    notifications.notify(
        user=job.user, type=kind, title=title, priority=priority,
        message=f"{where}\n{job.error}".strip() if job.status == Job.Status.FAILED else where,
        data={"i18n": spec,
              "job_id": str(job.id), "job_type": job.type, "status": job.status, "error": job.error or None,
              "url": reverse("jobs:detail", args=[job.id])},
    )


def _after_finish(job_id, status, job_type) -> None:
    locks.clear_cancel(job_id)
    if status == Job.Status.COMPLETED:
        locks.count("completed")
    elif status == Job.Status.FAILED:
        locks.count("failed")
        locks.count("errors", kind=f"job_{job_type}")
