"""The run of one job, as the worker does it: ``execute`` is the
``jobs.tasks.run_job`` task's body as a plain function (tests call it
in-process; it runs real rclone).

Steps: skip unless the job is startable; wait for ``scheduled_for``; take
the per-remote slots; claim the job in the database with a new run token (a
duplicate delivery claims nothing and returns); re-check permissions; run
rclone while a ``RunReporter`` thread writes the heartbeat, progress and
logs (and rides out a dropped database connection); record the outcome.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from core.errors import ApplicationError
from jobs import access, command, dispatch, locks, rclone, runner, services
from jobs.models import Job
from jobs.reporter import DB_ERRORS, RunReporter, reconnecting

logger = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2
# A Redis that failed is asked again only after this long: each call may
# block for its socket timeout, and the runner's loop must keep watching.
REDIS_RETRY_SECONDS = 1.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(job_id, *, worker: str | None = None, on_start=None) -> str:
    """Run one job to its end. Returns what happened (for logs and tests):
    ``missing``, ``skipped``, ``deferred``, ``busy``, ``duplicate``, the
    final status, ``superseded`` (another run took the job over: this one
    killed its rclone) or ``lost`` (the database stayed away: rclone was
    stopped and the sweep recovers the job). A database error before the
    claim propagates (the task is retried)."""
    worker = worker or worker_name()
    job = Job.objects.filter(id=job_id).first()
    if job is None:
        return "missing"
    if job.status not in Job.STARTABLE:
        return "skipped"
    if job.scheduled_for and job.scheduled_for > timezone.now():
        dispatch.job_redispatch(job=job)  # sent again with its eta
        return "deferred"
    names = [job.source.get("remote")] + ([job.destination["remote"]] if job.destination else [])
    token = uuid.uuid4()
    slots = locks.RemoteSlots([n for n in names if n], token=token.hex)
    if not slots.acquire():
        # Through dispatch: it also tells the lost-job sweep the task lives.
        dispatch.job_redispatch(job=job, countdown=BUSY_RETRY_SECONDS)
        return "busy"
    try:
        claim_sent = time.monotonic()
        job = services.job_claim(job_id=job.id, worker=worker, run_token=token)
        if job is None:
            return "duplicate"
        return _run_claimed(job, token, slots, claim_sent, worker=worker, on_start=on_start)
    finally:
        slots.release()


class CancelFlag:
    """The Redis cancel signal, polled by the runner's loop. While Redis is
    away it counts as not set (the heartbeat's read of cancel_requested_at
    still brings a cancel through) and is asked again only every
    REDIS_RETRY_SECONDS."""

    def __init__(self, job_id):
        self.job_id, self.retry_at = job_id, 0.0

    def __call__(self) -> bool:
        if time.monotonic() < self.retry_at:
            return False
        try:
            return locks.cancel_requested(self.job_id)
        except (RedisError, OSError):
            if not self.retry_at:
                logger.warning("job %s: Redis unreachable; cancels come through the database", self.job_id)
            self.retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            return False


def _status(job: Job | None) -> str:
    return job.status if job is not None else "lost"


def _run_claimed(job: Job, token, slots: locks.RemoteSlots, claim_sent: float, *, worker: str, on_start=None) -> str:
    reporter = RunReporter(job, run_token=token, slots=slots, beat_sent=claim_sent)
    reporter.start()
    try:
        try:
            # Checked at submit, and again now: grants may have changed since.
            src, dst = reconnecting(lambda: access.check_job(job.user, job.type, job.source, job.destination),
                                    until=claim_sent + settings.JOBS_RUNNER_GIVE_UP_SECONDS)
            options = command.validate_options(job.options)
        except ApplicationError as exc:
            reporter.add_logs([{"level": "fatal", "message": exc.message, "details": None}])
            return _status(reporter.finish(ok=False, error=f"Refused at run time: {exc.message}"))
        except DB_ERRORS:
            return _status(reporter.finish(ok=False, temporary=True, error="The database could not be reached."))
        remotes = [src.remote] + ([dst.remote] if dst else [])
        cancel_flag = CancelFlag(job.id)
        try:
            with rclone.RunDir(remotes) as run_dir:
                argv = command.build_command(job.type, src, dst, options, run_dir,
                                             backup_folder=job.payload.get("backup_folder", ""))
                outcome = runner.run(
                    argv,
                    env=run_dir.env(),
                    redact=runner.Redactor(rclone.secret_values(remotes)),
                    on_progress=reporter.set_progress,
                    on_logs=reporter.add_logs,
                    check=lambda: reporter.stop_reason() or (runner.CANCEL if cancel_flag() else None),
                    on_start=on_start,
                    start_note=f"attempt {job.retry_count + 1} of {job.max_retries + 1}, worker {worker}",
                )
        except Exception as exc:
            logger.exception("job %s crashed", job.id)
            return _status(reporter.finish(ok=False, error=f"Internal error: {type(exc).__name__}"))
        if outcome.stopped == runner.SUPERSEDED:
            return "superseded"
        if outcome.stopped == runner.GIVE_UP:
            return _status(reporter.finish(
                ok=False, temporary=True, stats=outcome.stats,
                error=f"The worker could not reach the database for {settings.JOBS_RUNNER_GIVE_UP_SECONDS} s "
                      "and stopped rclone."))
        return _status(reporter.finish(ok=outcome.ok, cancelled=outcome.cancelled, stats=outcome.stats,
                                       error=outcome.error, temporary=outcome.temporary))
    finally:
        reporter.close()
