"""Celery tasks: one ``run_job`` task per job, and the beat tasks.

``execute`` is the task's body as a plain function (tests call it in-process;
it runs real rclone). Steps: skip unless the job is startable; wait for
``scheduled_for``; take the per-remote slots; claim the job in the database
(a duplicate delivery claims nothing and returns); re-check permissions;
run rclone with a heartbeat thread; record the outcome.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.errors import ApplicationError
from jobs import access, locks, rclone, runner, services
from jobs.models import Job, JobLog

logger = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2
HEARTBEAT_SECONDS = 5


def celery_priority(priority: int) -> int:
    """Job priority 10 (most urgent) .. 1 -> Celery/Redis priority 0 .. 9 (0 first)."""
    return max(0, min(9, 10 - int(priority)))


def enqueue(job_id, *, priority: int = 5, eta=None, countdown: float | None = None) -> None:
    kwargs = {"args": [str(job_id)], "priority": celery_priority(priority)}
    if countdown:
        kwargs["countdown"] = countdown
    elif eta is not None and eta > timezone.now():
        kwargs["eta"] = eta
    run_job.apply_async(**kwargs)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat(threading.Thread):
    """Keeps the job's heartbeat and the remote slots fresh while rclone
    runs, even when rclone prints nothing."""

    def __init__(self, job_id, slots: locks.RemoteSlots):
        super().__init__(daemon=True)
        self.job_id, self.slots = job_id, slots
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                try:
                    Job.objects.filter(id=self.job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
                    self.slots.refresh()
                except Exception:  # noqa: BLE001 - the next beat tries again
                    logger.exception("job heartbeat failed")
        finally:
            connection.close()

    def stop(self):
        self.stopped.set()
        self.join(timeout=2)


def execute(job_id, *, worker: str | None = None, on_start=None) -> str:
    """Run one job to its end. Returns what happened (for logs and tests):
    ``missing``, ``skipped``, ``deferred``, ``busy``, ``duplicate`` or the
    final status."""
    worker = worker or worker_name()
    job = Job.objects.filter(id=job_id).first()
    if job is None:
        return "missing"
    if job.status not in Job.STARTABLE:
        return "skipped"
    if job.scheduled_for and job.scheduled_for > timezone.now():
        services.job_redispatch(job=job)  # sent again with its eta
        return "deferred"
    names = [job.source.get("remote")] + ([job.destination["remote"]] if job.destination else [])
    slots = locks.RemoteSlots([n for n in names if n])
    if not slots.acquire():
        # Through the service: it also tells the lost-job sweep the task lives.
        services.job_redispatch(job=job, countdown=BUSY_RETRY_SECONDS)
        return "busy"
    try:
        job = services.job_claim(job_id=job.id, worker=worker)
        if job is None:
            return "duplicate"
        return _run_claimed(job, slots, on_start=on_start)
    finally:
        slots.release()


def _run_claimed(job: Job, slots: locks.RemoteSlots, *, on_start=None) -> str:
    try:
        # Checked at submit, and again now: grants may have changed since.
        src, dst = access.check_job(job.user, job.type, job.source, job.destination)
        options = runner.validate_options(job.options)
    except ApplicationError as exc:
        services.job_logs_append(job=job, entries=[{"level": "fatal", "message": exc.message, "details": None}])
        return services.job_finish(job=job, ok=False, error=f"Refused at run time: {exc.message}").status
    remotes = [src.remote] + ([dst.remote] if dst else [])
    heartbeat = Heartbeat(job.id, slots)
    heartbeat.start()
    try:
        with rclone.RunDir(remotes) as run_dir:
            argv = runner.build_command(job.type, src, dst, options, run_dir,
                                        backup_folder=job.payload.get("backup_folder", ""))
            outcome = runner.run(
                argv,
                env=run_dir.env(),
                redact=runner.Redactor(rclone.secret_values(remotes)),
                on_progress=lambda progress, stats: services.job_progress(job=job, progress=progress, stats=stats),
                on_logs=lambda entries: services.job_logs_append(job=job, entries=entries),
                should_cancel=lambda: locks.cancel_requested(job.id),
                on_start=on_start,
            )
    except Exception as exc:  # noqa: BLE001 - a bug or an OS error must not leave the job running
        logger.exception("job %s crashed", job.id)
        heartbeat.stop()
        return services.job_finish(job=job, ok=False, error=f"Internal error: {type(exc).__name__}").status
    heartbeat.stop()
    job = services.job_finish(job=job, ok=outcome.ok, cancelled=outcome.cancelled, stats=outcome.stats,
                              error=outcome.error, temporary=outcome.temporary)
    return job.status


@shared_task(name="jobs.tasks.run_job", acks_late=True, reject_on_worker_lost=False, ignore_result=True)
def run_job(job_id: str) -> str:
    return execute(job_id)


@shared_task(name="jobs.tasks.recover_stale_jobs", ignore_result=True)
def recover_stale_jobs() -> int:
    return len(services.job_recover_stale())


@shared_task(name="jobs.tasks.requeue_lost_jobs", ignore_result=True)
def requeue_lost_jobs() -> int:
    return len(services.job_requeue_lost())


@shared_task(name="jobs.tasks.schedules_tick", ignore_result=True)
def schedules_tick() -> int:
    return len(services.schedules_tick())


@shared_task(name="jobs.tasks.prune_job_logs", ignore_result=True)
def prune_job_logs() -> int:
    """Seed 001: job logs older than 30 days go (whole months also leave by
    partition retention)."""
    cutoff = timezone.now() - timedelta(days=settings.JOB_LOG_RETENTION_DAYS)
    deleted, _ = JobLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted
