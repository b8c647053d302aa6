"""Jobs whose run or task was lost: the stale-heartbeat sweep (the runner
is gone) and the lost-task sweep (the task never reached a worker). Both
are beat task bodies; staff may also re-enqueue from the admin."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from core.errors import PermissionDenied
from jobs import access, locks, realtime
from jobs.dispatch import enqueue_on_commit
from jobs.models import Job
from jobs.services.job_run import notify_owner

logger = logging.getLogger(__name__)


@transaction.atomic
def job_recover_stale(*, stale_after: timedelta | None = None) -> list[Job]:
    """Beat task body (every JOBS_STALE_SWEEP_SECONDS): running jobs whose
    runner is gone (``Job.objects.runner_gone``) are retried while retries
    are left, else failed; cancelled if a cancel was asked for. Never left
    running."""
    return [recover(job) for job in Job.objects.select_for_update(skip_locked=True).runner_gone(stale_after)]


def recover(job: Job) -> Job:
    """End the run of a (locked) job whose runner is gone: its token is
    cleared, so that runner, should it still write, is refused; the slots it
    held are freed for the retry."""
    error = f"The worker {job.worker or '?'} stopped sending heartbeats."
    if job.cancel_requested_at is not None:
        # Its owner asked to stop it: the runner's death finished the job.
        job.status, job.cancelled_at = Job.Status.CANCELLED, timezone.now()
        action = "job.cancelled"
    elif job.retry_count < job.max_retries:
        job.status, job.retry_count, job.error = Job.Status.QUEUED, job.retry_count + 1, error
        job.started_at, job.worker, job.heartbeat_at = None, "", None
        action = "job.recovered"
        enqueue_on_commit(job)
    else:
        job.status, job.completed_at, job.error = Job.Status.FAILED, timezone.now(), error
        action = "job.failed"
    token, names = job.run_token, [n for n in (job.source.get("remote"), (job.destination or {}).get("remote")) if n]
    job.run_token = None
    job.save()
    if token is not None:
        transaction.on_commit(lambda: locks.release_run(names, token.hex))
    notify_owner(job)
    audit_record(action=action, actor=None, resource_type="job", resource_id=str(job.id), level="warning",
                 result="failure" if job.status == Job.Status.FAILED else "success",
                 details={"error": error, "retry_count": job.retry_count})
    realtime.job_progress(job)
    return job


@transaction.atomic
def job_requeue_lost(*, lost_after: timedelta | None = None, actor=None, job_ids=None, limit: int = 500) -> list[Job]:
    """Beat task body (and the admin's "re-enqueue" action): a due pending or
    queued job whose task should have been delivered more than ``lost_after``
    ago and that nobody claimed lost its task (broker flushed, or a worker
    took it and died before claiming). Send it again.

    Safe even when the original task is still somewhere: the worker claims
    the job with one conditional UPDATE (``job_claim``), so whichever
    delivery comes second finds nothing to claim. The cost of a false alarm
    (a long broker backlog) is one extra delivery that returns at once.
    """
    if actor is not None and not access.is_superuser(actor):
        raise PermissionDenied(_("Only staff may re-enqueue jobs."))
    lost_after = timedelta(seconds=settings.JOBS_LOST_QUEUED_SECONDS) if lost_after is None else lost_after
    now = timezone.now()
    cutoff = now - lost_after
    # Rows without task_due_at predate the field: their task was sent at creation.
    qs = (
        Job.objects.select_for_update(skip_locked=True)
        .filter(status__in=Job.STARTABLE)
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=cutoff))
        .filter(Q(task_due_at__lte=cutoff) | Q(task_due_at__isnull=True, created_at__lte=cutoff))
        .order_by("-priority", "created_at")
    )
    if job_ids is not None:
        qs = qs.filter(id__in=list(job_ids))
    requeued = []
    for job in qs[:limit]:
        previous_due = job.task_due_at or job.created_at
        enqueue_on_commit(job)
        audit_record(action="job.requeued", actor=actor, resource_type="job", resource_id=str(job.id),
                     level="warning",
                     details={"status": job.status, "task_due_at": previous_due.isoformat(),
                              "unclaimed_seconds": int((now - previous_due).total_seconds())})
        requeued.append(job)
    if requeued:
        logger.warning("re-enqueued %d job(s) whose task was lost", len(requeued))
    return requeued
