"""The cost of the per-process minute sampler (ops.sampler) and of the
per-request counting (ops.middleware, ops.counters).

    python bench/ops_sampler.py [--samples 200] [--requests 100000]

Runs against a scratch database beside DATABASE_URL's (created, migrated,
dropped). Prints the CPU time of one sample (reading the process's figures
and writing its rows), the CPU share of one process at one sample a minute,
the rows and bytes a day per process, and the CPU cost of counting one
request. A few seconds; safe to run beside other work."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.common import created_scratch_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()

    with created_scratch_database("teamhub_bench_ops_sampler"):
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        from django.utils import timezone

        from ops import counters, prom
        from ops.models import METRIC_NAMES
        from ops.sampler import Sampler

        sampler = Sampler("web")
        sampler.sample()  # warm up (connection, prepared statements)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.samples):
            for i in range(50):  # a busy minute's counts to take
                counters.request_done(0.001 * i, 200 if i % 10 else 500)
            sampler.sample()
        cpu = (time.process_time() - cpu) / args.samples
        wall = (time.perf_counter() - wall) / args.samples
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), pg_total_relation_size('system_metrics_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')) FROM system_metrics")
            rows, size = cursor.fetchone()
        per_row = size / rows
        per_day = len(METRIC_NAMES) * 24 * 60

        started = time.process_time()
        for i in range(args.requests):
            prom.HTTP_REQUESTS.labels(view="bench", method="GET", status="200").inc()
            prom.HTTP_LATENCY.labels(view="bench").observe(0.01)
            counters.request_done(0.01, 200)
        per_request = (time.process_time() - started) / args.requests

        import uuid

        from chatroom import cursors
        from realtime import signals
        from realtime.delivery import Delivery

        cursor = cursors.encode(timezone.now(), uuid.uuid4())
        started = time.process_time()
        for _ in range(args.requests):
            signals.message_delivered.send(sender=Delivery, cursor=cursor)
        per_delivery = (time.process_time() - started) / args.requests

        print(f"one sample: {cpu * 1000:.2f} ms CPU, {wall * 1000:.2f} ms wall ({len(METRIC_NAMES)} rows)")
        print(f"CPU share of one process at one sample a minute: {cpu / 60 * 100:.4f} % of one core")
        print(f"rows a day per process: {per_day}; about {per_row:.0f} bytes a row with indexes "
              f"-> {per_day * per_row / 1e6:.1f} MB a day per process")
        print(f"counting one socket delivery (frame out + fan-out latency): {per_delivery * 1e6:.1f} us CPU")
        print(f"counting one request (Prometheus counter + histogram + minute window): {per_request * 1e6:.1f} us CPU")


if __name__ == "__main__":
    main()
