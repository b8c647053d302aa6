"""The owner's (or staff's) control of a job: cancel and retry."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from core.errors import Conflict, NotFound
from jobs import access, locks, realtime
from jobs.dispatch import enqueue_on_commit
from jobs.models import Job
from jobs.services.job_recovery import recover
from jobs.services.job_run import locked_job


def _managed(actor, job: Job) -> Job:
    """The job, locked, if the actor may manage it (a stranger learns nothing)."""
    job = locked_job(job.id)
    if not (job.user_id == actor.pk or access.is_superuser(actor)):
        raise NotFound(_("No such job."))
    return job


@transaction.atomic
def job_cancel(*, actor, job: Job) -> Job:
    """A pending or queued job is cancelled at once and never starts. A
    running one is signalled (a Redis flag its runner polls, and
    ``cancel_requested_at``, which its heartbeat reads, for when Redis is
    away); the runner stops rclone (SIGTERM, then SIGKILL) and only then
    records ``cancelled``, so the status never says cancelled while an rclone
    still copies. A running job whose runner is gone (stale heartbeat: no
    rclone of it can run) is cancelled at once."""
    job = _managed(actor, job)
    now = timezone.now()
    if job.status in Job.STARTABLE:
        previous = job.status
        job.status, job.cancelled_at, job.completed_at = Job.Status.CANCELLED, now, None
        job.save(update_fields=["status", "cancelled_at", "completed_at"])
        audit_record(action="job.cancelled", actor=actor, resource_type="job", resource_id=str(job.id),
                     details={"from": previous})
        realtime.job_progress(job)
    elif job.status == Job.Status.RUNNING:
        if job.cancel_requested_at is None:
            job.cancel_requested_at = now
            job.save(update_fields=["cancel_requested_at"])
            audit_record(action="job.cancel_requested", actor=actor, resource_type="job", resource_id=str(job.id))
        if Job.objects.runner_gone().filter(pk=job.pk).exists():
            return recover(job)
        job_id = job.id
        transaction.on_commit(lambda: locks.request_cancel(job_id))
    else:
        raise Conflict(_("A %(status)s job cannot be cancelled.") % {"status": job.get_status_display().lower()})
    return job


@transaction.atomic
def job_retry(*, actor, job: Job) -> Job:
    """Run a failed or cancelled job again (a fresh retry budget)."""
    job = _managed(actor, job)
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise Conflict(_("A %(status)s job cannot be retried.") % {"status": job.get_status_display().lower()})
    access.check_job(job.user, job.type, job.source, job.destination)
    previous = job.status
    job.status, job.error, job.progress, job.retry_count = Job.Status.QUEUED, "", 0, 0
    job.started_at = job.completed_at = job.cancelled_at = job.cancel_requested_at = None
    job.scheduled_for, job.worker, job.heartbeat_at, job.run_token = None, "", None, None
    job.save()
    audit_record(action="job.retried", actor=actor, resource_type="job", resource_id=str(job.id),
                 details={"from": previous})
    job_id = job.id
    transaction.on_commit(lambda: locks.clear_cancel(job_id))
    enqueue_on_commit(job)
    realtime.job_progress(job)
    return job
