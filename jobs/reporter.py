"""A running job's link to the database: the ``RunReporter`` thread.

The runner's own thread watches rclone and never waits for the database;
everything it has to say (log lines, progress) goes into this thread's
buffer, and this thread writes it, with the heartbeat, through the services.
When the connection drops (a restart, a failover, ``pg_terminate_backend``)
it closes it, keeps the buffer, and reconnects with a capped backoff; what
was buffered meanwhile is written on reconnect, each line with the time it
was seen.

Every write carries the run's token (``Job.run_token``). A refusal means the
job was recovered and may run elsewhere: ``stop_reason`` then says
``superseded`` and the runner kills rclone at once. ``stop_reason`` also says
``give_up`` once no heartbeat got through for JOBS_RUNNER_GIVE_UP_SECONDS
(measured from when the last successful one was sent, so never later than the
database's own record of it), which settings keep safely below the stale
threshold: the runner stops its rclone before the sweep may hand the job to
another run. It says ``cancel`` when the heartbeat reads a cancel request
(the path that works while Redis is away).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from jobs import runner, services
from jobs.models import Job

logger = logging.getLogger(__name__)

# What a dropped or refused connection raises (Django's wrappers of psycopg's).
DB_ERRORS = (OperationalError, InterfaceError)


class Backoff:
    """Delays between reconnection attempts: doubling from ``first``, capped
    at ``cap`` (a database back after an outage is found within ``cap``)."""

    def __init__(self, first: float = 0.1, cap: float = 1.0):
        self.first, self.cap, self.next = first, cap, first

    def failed(self) -> float:
        delay, self.next = self.next, min(self.next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self.next = self.first


def drop_connection() -> None:
    """Forget this thread's broken connection; the next query opens a new one."""
    try:
        connection.close()
    except DB_ERRORS:
        pass


def reconnecting(fn, *, until: float):
    """``fn()``, tried again on a fresh connection (with backoff) while the
    database is away, until the monotonic deadline ``until``; then the
    error is raised."""
    backoff = Backoff()
    while True:
        try:
            return fn()
        except DB_ERRORS:
            if connection.in_atomic_block:
                raise
            drop_connection()
            delay = backoff.failed()
            if time.monotonic() + delay > until:
                raise
            time.sleep(delay)


def application_name(job_id) -> str:
    """How the run's backends show in pg_stat_activity (at most 63 bytes)."""
    return f"teamhub-job:{job_id}"


class RunReporter(threading.Thread):
    """See the module docstring. ``beat_sent`` is when the claim (the run's
    first heartbeat) was sent, on the monotonic clock."""

    TICK = 0.2

    def __init__(self, job: Job, *, run_token, slots, beat_sent: float):
        super().__init__(daemon=True, name=f"job-reporter-{job.id}")
        self.job, self.token, self.slots = job, run_token, slots
        self.cond = threading.Condition()
        self.logs: list[dict] = []
        self.progress: tuple[int, dict] | None = None
        self.beat_sent = beat_sent
        self.cancel_seen = False
        self.superseded = False
        self.error: BaseException | None = None
        self.final: dict | None = None
        self.finish_by = 0.0
        self.result: Job | None = None
        self.closing = False
        self.done = threading.Event()
        self._tagged = None
        self._outage_since: tuple[float, object] | None = None  # (monotonic, wall clock)

    # ------------------------------------------------------------ the runner's side (never blocks)

    def add_logs(self, entries: list[dict]) -> None:
        with self.cond:
            self.logs.extend(entries)
            self.cond.notify()

    def set_progress(self, progress: int, stats: dict) -> None:
        with self.cond:
            self.progress = (progress, stats)
            self.cond.notify()

    def stop_reason(self) -> str | None:
        """Why rclone must stop now, if it must (runner.STOP_REASONS). An
        unexpected failure of this thread is raised here, so the runner stops
        rclone and ends the job as an internal error."""
        if self.error is not None:
            raise RuntimeError("the job's reporter failed") from self.error
        if self.superseded:
            return runner.SUPERSEDED
        if time.monotonic() - self.beat_sent > settings.JOBS_RUNNER_GIVE_UP_SECONDS:
            return runner.GIVE_UP
        if self.cancel_seen:
            return runner.CANCEL
        return None

    def finish(self, **final) -> Job | None:
        """Write the buffered lines and then the final status (job_finish's
        arguments), once rclone is gone. Tried while the run may still claim
        the job (JOBS_RUNNER_GIVE_UP_SECONDS from the last heartbeat, and at
        least one attempt); returns the job as recorded, or None if that could
        not be done (the sweep then recovers the job from its heartbeat)."""
        patience = max(self.beat_sent + settings.JOBS_RUNNER_GIVE_UP_SECONDS - time.monotonic(), 1.0)
        if not self.is_alive():  # it failed: the last attempt is this thread's own
            if self.superseded:
                return None
            try:
                return reconnecting(lambda: services.job_finish(job=self.job, run_token=self.token, **final),
                                    until=time.monotonic() + patience)
            except DB_ERRORS:
                return None
        with self.cond:
            self.final, self.finish_by = final, time.monotonic() + patience
            self.cond.notify()
        self.done.wait(patience + 1.0)
        return self.result

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()
        # A write stuck on a dead host is not waited for: it is fenced, and
        # the thread is a daemon.
        self.join(timeout=2.0)

    # ------------------------------------------------------------ the writing thread

    def run(self) -> None:
        backoff, retry_at, slots_due = Backoff(), 0.0, 0.0
        try:
            while True:
                with self.cond:
                    if self.final is None and not self.closing:
                        self.cond.wait(self.TICK)  # a new line, progress or the final status wakes it
                    if self.closing and self.final is None:
                        return
                    logs, progress, final = list(self.logs), self.progress, self.final
                now = time.monotonic()
                if now >= slots_due:
                    slots_due = now + settings.JOBS_HEARTBEAT_SECONDS
                    self._refresh_slots()
                if now < retry_at:
                    time.sleep(min(retry_at - now, self.TICK))
                    continue
                beat_due = now - self.beat_sent >= settings.JOBS_HEARTBEAT_SECONDS
                if not (logs or progress or beat_due or final is not None):
                    continue
                try:
                    self._write(logs, progress, final)
                except services.RunSuperseded:
                    logger.warning("job %s: another run holds the job now; stopping this one", self.job.id)
                    self.superseded = True
                    return
                except DB_ERRORS as exc:
                    drop_connection()
                    retry_at = time.monotonic() + backoff.failed()
                    if self._outage_since is None:
                        self._outage_since = (now, timezone.now())
                        logger.warning("job %s: database unreachable (%s); reconnecting", self.job.id, exc)
                    if final is not None and time.monotonic() >= self.finish_by:
                        return
                    continue
                backoff.reset()
                if final is not None:
                    return
        except BaseException as exc:
            logger.exception("job %s: the reporter failed", self.job.id)
            self.error = exc
        finally:
            self.done.set()
            drop_connection()

    def _write(self, logs: list[dict], progress, final: dict | None) -> None:
        self._tag()
        if self._outage_since is not None:
            # Connected again. The line saying so goes where the outage was
            # first noticed, among the lines by the time they were seen (the
            # buffer begins with ``logs``: only this thread takes from its
            # front).
            since, began = self._outage_since
            away = time.monotonic() - since
            self._outage_since = None
            logger.warning("job %s: database reachable again after %.1f s", self.job.id, away)
            line = {"level": "warning", "message": f"The database was unreachable for {away:.1f} s; the lines "
                    "and progress of that time were kept and written on reconnect.", "details": None, "at": began}
            at = next((i for i, e in enumerate(logs) if e.get("at") and e["at"] >= began), len(logs))
            with self.cond:
                self.logs.insert(at, line)
            logs = [*logs[:at], line, *logs[at:]]
        if logs:
            services.job_logs_append(job=self.job, entries=logs, run_token=self.token)
            with self.cond:
                del self.logs[:len(logs)]
        if final is not None:
            self.result = services.job_finish(job=self.job, run_token=self.token, **final)
            return
        sent = time.monotonic()
        cancel = services.job_heartbeat(job=self.job, run_token=self.token,
                                        **({"progress": progress[0], "stats": progress[1]} if progress else {}))
        self.beat_sent = sent
        with self.cond:
            if self.progress is progress:
                self.progress = None
        self.cancel_seen = self.cancel_seen or cancel

    def _tag(self) -> None:
        """Name each (re)connection after the job, so an operator (or a test)
        can tell the run's backends in pg_stat_activity."""
        if connection.connection is not None and connection.connection is self._tagged:
            return
        if settings.DB_PGBOUNCER:
            # Behind PgBouncer a backend serves many clients in turn: a
            # session-wide name would tag whoever gets it next.
            return
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('application_name', %s, false)", [application_name(self.job.id)])
        self._tagged = connection.connection

    def _refresh_slots(self) -> None:
        try:
            self.slots.refresh()
        except Exception:
            logger.warning("job %s: could not refresh its remote slots", self.job.id, exc_info=True)
