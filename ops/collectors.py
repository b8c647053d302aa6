"""What /metrics reads from the database and Redis at scrape time: jobs by
status, bytes moved and rclone errors, Celery's queue depth, the audit
chain's last verification and its age, partitions created ahead and rows
found in DEFAULT partitions. Read once per scrape, by whichever process
answers it, so it adds up the same in multiprocess mode."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from config import redis_connections
from core import partitions
from jobs.models import Job, JobLog
from ops.models import SystemEvent

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue's priorities 3, 6 and 9 in lists of
# their own, named queue + "\x06\x16" + priority.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def queue_depth(queue: str = "celery") -> int | None:
    try:
        redis = redis_connections.client()
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        return sum(redis.llen(f"{prefix}{queue}{suffix}") for suffix in _PRIORITY_SUFFIXES)
    except Exception as exc:  # noqa: BLE001 - Redis away: the metric is left out, the scrape goes on
        logger.warning("queue depth unavailable: %s", exc)
        return None


def last_verification() -> SystemEvent | None:
    return SystemEvent.objects.filter(event_type="audit", event_name="verification").order_by("-created_at").first()


def partitions_ahead() -> dict[str, tuple[int, int]]:
    """{table: (monthly partitions starting after the current month, rows in DEFAULT)}."""
    now = datetime.now(timezone.utc)
    current = partitions.month_start(now)
    result = {}
    for config in partitions.configs():
        if not partitions.table_exists(config.table):
            continue
        parts = partitions.partitions(config)
        ahead = sum(1 for p in parts if p.attached and not p.is_default and p.start and p.start > current)
        default = partitions.count_rows(config.default_partition) if any(p.is_default for p in parts) else 0
        result[config.table] = (ahead, default)
    return result


class DatabaseCollector:
    def collect(self):
        try:
            yield from self._collect()
        except DatabaseError as exc:
            logger.warning("database metrics unavailable: %s", exc)
            up = GaugeMetricFamily("teamhub_database_up", "Whether the scrape could read the database.")
            up.add_metric([], 0)
            yield up

    def _collect(self):
        up = GaugeMetricFamily("teamhub_database_up", "Whether the scrape could read the database.")
        up.add_metric([], 1)
        yield up

        jobs = GaugeMetricFamily("teamhub_jobs", "Jobs by status (running, queued, failed, completed, ...).",
                                 labels=["status"])
        counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in Job.Status.values:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs

        with connection.cursor() as cursor:
            cursor.execute("""SELECT coalesce(sum(CASE WHEN jsonb_typeof(result->'bytes') = 'number'
                                                  THEN (result->>'bytes')::numeric ELSE 0 END), 0)
                              FROM jobs WHERE completed_at IS NOT NULL""")
            moved = float(cursor.fetchone()[0])
        transferred = CounterMetricFamily("teamhub_job_bytes_transferred", "Bytes moved by finished jobs.")
        transferred.add_metric([], moved)
        yield transferred
        errors = CounterMetricFamily("teamhub_rclone_errors", "rclone error and fatal log lines kept (job_logs).")
        errors.add_metric([], JobLog.objects.filter(level__in=["error", "fatal"]).count())
        yield errors

        depth = queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily("teamhub_celery_queue_depth", "Tasks waiting in the broker.", labels=["queue"])
            queue.add_metric(["celery"], depth)
            yield queue

        event = last_verification()
        ok = GaugeMetricFamily("teamhub_audit_last_verification_ok",
                               "The audit chain's last verification: 1 intact, 0 broken, -1 never run.")
        age = GaugeMetricFamily("teamhub_audit_last_verification_age_seconds",
                                "Seconds since the audit chain's last verification (-1: never run).")
        if event is None:
            ok.add_metric([], -1)
            age.add_metric([], -1)
        else:
            ok.add_metric([], 1 if event.data.get("ok") else 0)
            age.add_metric([], max(time.time() - event.created_at.timestamp(), 0.0))
        yield ok
        yield age

        ahead = GaugeMetricFamily("teamhub_partitions_ahead", "Monthly partitions created after the current month.",
                                  labels=["table"])
        default = GaugeMetricFamily("teamhub_partition_default_rows", "Rows in the DEFAULT partition (should be 0).",
                                    labels=["table"])
        for table, (n_ahead, n_default) in sorted(partitions_ahead().items()):
            ahead.add_metric([table], n_ahead)
            default.add_metric([table], n_default)
        yield ahead
        yield default
