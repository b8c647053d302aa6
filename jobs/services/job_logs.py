"""A job's log lines: stored in batches as a run sees them (fenced by the
run's token), and pruned after JOB_LOG_RETENTION_DAYS."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs import realtime
from jobs.models import Job, JobLog
from jobs.presenters import log_line_dict
from jobs.services.job_run import RunSuperseded

# The fence: with a run token, lines are stored only while the run holds the job.
_LOG_INSERT_SQL = """
INSERT INTO job_logs (created_at, job_id, level, message, details)
SELECT t.created_at, %s, level, message, details
FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[]::jsonb[])
    WITH ORDINALITY AS t(created_at, level, message, details, n)
WHERE %s::uuid IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = %s AND run_token = %s::uuid)
ORDER BY n
RETURNING id
"""


def job_logs_append(*, job: Job, entries: list[dict], run_token=None) -> None:
    """Store a batch of log lines and broadcast them. One statement with the
    lines as arrays: rclone logs a line per file, and the ORM's bulk insert
    spent more CPU per batch than the lines are worth (time rclone needs).
    Each line keeps the time it was seen (``at``; it may be stored after an
    outage). With ``run_token`` (the runner's), raises RunSuperseded instead
    of storing lines for a job another run holds."""
    if not entries:
        return
    now = timezone.now()
    times = [e.get("at") or now for e in entries]
    levels = [e["level"] for e in entries]
    messages = [e["message"] for e in entries]
    details = [json.dumps(e["details"]) if e.get("details") is not None else None for e in entries]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LOG_INSERT_SQL, [job.id, times, levels, messages, details, run_token, job.id, run_token])
        # Ids come from the sequence in insertion order (ORDER BY n).
        ids = sorted(row[0] for row in cursor.fetchall())
        if not ids:
            raise RunSuperseded(str(job.id))
        # With their ids, as the API lists them, so a page that also reads the
        # API after a reconnect can tell which lines it already shows.
        realtime.job_log(job, [
            log_line_dict(id=i, level=e["level"], message=e["message"], details=e.get("details"), created_at=at)
            for i, e, at in zip(ids, entries, times)])


def job_logs_prune() -> int:
    """Seed 001: job logs older than JOB_LOG_RETENTION_DAYS (30) go (whole
    months also leave by partition retention). Returns how many went."""
    cutoff = timezone.now() - timedelta(days=settings.JOB_LOG_RETENTION_DAYS)
    deleted, _ = JobLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted
