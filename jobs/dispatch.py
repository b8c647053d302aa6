"""Sending a job's Celery task: its priority, and the send itself, which
happens once the job's transaction commits.

The task is sent by name (``RUN_JOB_TASK``; jobs.tasks registers it), so
this module, and the services that enqueue, need nothing of the tasks
module: the tasks call down into jobs.execution and the services, never
the other way round.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from config.faults import OPEN, redis_policy
from jobs.models import Job

RUN_JOB_TASK = "jobs.tasks.run_job"


def celery_priority(priority: int) -> int:
    """Job priority 10 (most urgent) .. 1 -> Celery/Redis priority 0 .. 9 (0 first)."""
    return max(0, min(9, 10 - int(priority)))


@redis_policy("job_enqueue", fails=OPEN, fallback=None,
              means="a job is saved but its task is not sent; the lost-job sweep sends it once the broker is back")
def enqueue(job_id, *, priority: int = 5, eta=None, countdown: float | None = None) -> None:
    # Runs after the job's transaction committed: failing here would answer
    # 503 for a job that exists, and a client's retry would submit it twice.
    # No result is kept (the task is ignore_result): not asking for one keeps
    # the result backend out of the send.
    kwargs = {"args": [str(job_id)], "priority": celery_priority(priority), "ignore_result": True}
    if countdown:
        kwargs["countdown"] = countdown
    elif eta is not None and eta > timezone.now():
        kwargs["eta"] = eta
    celery_app.send_task(RUN_JOB_TASK, **kwargs)


def enqueue_on_commit(job: Job, *, countdown: float | None = None) -> None:
    """Send the job's task once the transaction commits, and record when that
    task becomes deliverable (``task_due_at``): the lost-job sweep measures
    from it, so a retry's backoff or a future ``scheduled_for`` is never
    mistaken for a lost task."""
    now = timezone.now()
    due = now + timedelta(seconds=countdown) if countdown else max(now, job.scheduled_for or now)
    job.task_due_at = due
    Job.objects.filter(pk=job.pk).update(task_due_at=due)
    job_id, priority, eta = job.id, job.priority, job.scheduled_for
    transaction.on_commit(lambda: enqueue(job_id, priority=priority, eta=eta, countdown=countdown))


def job_redispatch(*, job: Job, countdown: float | None = None) -> None:
    """The worker sends a job's task again without a state change: its remote
    was busy (``countdown``), or it was delivered before ``scheduled_for``.
    Not audited (no transition); it moves ``task_due_at`` so the lost-job
    sweep knows the job still has a live task."""
    with transaction.atomic():
        enqueue_on_commit(job, countdown=countdown)
