"""The cost of the per-process minute sampler (ops.sampler) and of the
per-request counting (ops.middleware, ops.counters).

    python bench/ops_sampler.py [--samples 200] [--requests 100000]

Runs against a scratch database beside DATABASE_URL's (created, migrated,
dropped). Prints the CPU time of one sample (reading the process's figures
and writing its system_metrics and performance_metrics rows), the CPU share
of one process at one sample a minute, the rows and bytes a day per
process in each table, and the CPU cost of counting one request. A few seconds; safe to run beside other work."""

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
    parser.add_argument("--views", type=int, default=20, help="distinct views answering in each sampled minute")
    parser.add_argument("--requests-per-minute", type=int, default=600)
    args = parser.parse_args()

    with created_scratch_database("teamhub_bench_ops_sampler"):
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        from django.utils import timezone

        import uuid

        from chatroom import cursors
        from ops import counters, prom
        from ops.models import METRIC_NAMES
        from ops.sampler import Sampler
        from realtime import signals
        from realtime.delivery import Delivery

        sampler = Sampler("web")
        sampler.sample()  # warm up (connection, prepared statements)
        # A busy minute: args.views views answered (performance_metrics rows)
        # and messages fanned out to sockets (one more row).
        cursor_now = cursors.encode(timezone.now(), uuid.uuid4())
        cpu = wall = 0.0
        for _ in range(args.samples):
            for i in range(args.requests_per_minute):
                counters.request_done(0.001 * (i % 50), 200 if i % 10 else 500, f"view-{i % args.views}")
            for _ in range(20):
                signals.message_delivered.send(sender=Delivery, cursor=cursor_now)
            # Only the sample itself (the counting is measured below, per request).
            cpu_at, wall_at = time.process_time(), time.perf_counter()
            sampler.sample()
            cpu += time.process_time() - cpu_at
            wall += time.perf_counter() - wall_at
        cpu, wall = cpu / args.samples, wall / args.samples

        def table(name: str) -> tuple[int, float]:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*), pg_total_relation_size('{name}_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')) FROM {name}")
                rows, size = cursor.fetchone()
            return rows, size / rows

        _, per_row = table("system_metrics")
        perf_rows, perf_per_row = table("performance_metrics")
        per_day = len(METRIC_NAMES) * 24 * 60
        perf_per_minute = perf_rows / (args.samples + 1)
        perf_per_day = (args.views + 1) * 24 * 60
        # Busiest case: every route answered every minute (VIEWS_MAX of them,
        # the rest as one "<other>", or every route plus "<unmatched>"), and fan-out.
        routes = len(_route_names())
        perf_max = (min(counters.VIEWS_MAX + 1, routes + 1) + 1) * 24 * 60

        started = time.process_time()
        for i in range(args.requests):
            prom.HTTP_REQUESTS.labels(view="bench", method="GET", status="200").inc()
            prom.HTTP_LATENCY.labels(view="bench").observe(0.01)
            counters.request_done(0.01, 200, "bench")
        per_request = (time.process_time() - started) / args.requests

        cursor = cursors.encode(timezone.now(), uuid.uuid4())
        started = time.process_time()
        for _ in range(args.requests):
            signals.message_delivered.send(sender=Delivery, cursor=cursor)
        per_delivery = (time.process_time() - started) / args.requests

        print(f"one sample: {cpu * 1000:.2f} ms CPU, {wall * 1000:.2f} ms wall ({len(METRIC_NAMES)} system_metrics rows"
              f" + {perf_per_minute:.0f} performance_metrics rows: {args.views} views, fan-out)")
        print(f"CPU share of one process at one sample a minute: {cpu / 60 * 100:.4f} % of one core")
        print(f"rows a day per process: system_metrics {per_day} (about {per_row:.0f} bytes a row with indexes "
              f"-> {per_day * per_row / 1e6:.1f} MB); performance_metrics {perf_per_day:.0f} with {args.views} views "
              f"busy every minute (about {perf_per_row:.0f} bytes a row -> {perf_per_day * perf_per_row / 1e6:.1f} MB), "
              f"at most {perf_max} (each of the {routes} routes every minute, capped at {counters.VIEWS_MAX} "
              "views a minute); an idle minute writes none")
        print(f"counting one socket delivery (frame out + fan-out latency): {per_delivery * 1e6:.1f} us CPU")
        print(f"counting one request (Prometheus counter + histogram + minute window, overall and per view): {per_request * 1e6:.1f} us CPU")


def _route_names() -> set[str]:
    """Every named route of the URL conf (what a request's view label can be)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    names: set[str] = set()

    def walk(patterns, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern):
                names.add(f"{namespace}{entry.name or entry.lookup_str}")

    walk(get_resolver().url_patterns, "")
    return names


if __name__ == "__main__":
    main()
