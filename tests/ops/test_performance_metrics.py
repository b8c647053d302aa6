"""performance_metrics (seed 002): the sampler writes, once a minute per
process, each view's request latency and the channel layer's fan-out
latency, counted per request in memory (ops.counters) and batched; the
dashboard charts them and lists the slowest endpoints (staff only)."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chatroom import cursors
from ops import counters
from ops.models import FANOUT_LATENCY, HTTP_REQUEST_DURATION, METRIC_NAMES, PerformanceMetric, SystemMetric
from ops.sampler import Sampler
from realtime import signals
from realtime.delivery import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_window():
    counters.take()
    yield
    counters.take()


def rows(name=HTTP_REQUEST_DURATION):
    return {r.tags.get("view"): r for r in PerformanceMetric.objects.filter(metric_name=name)}


def test_one_row_per_view_per_minute_with_its_p95_count_and_errors():
    for i in range(100):
        counters.request_done((i + 1) / 1000, 200, "chat:room")  # 1 .. 100 ms
    counters.request_done(0.5, 503, "api:jobs-list")
    counters.request_done(0.5, 200, "")  # no view: counted overall only

    Sampler("web").sample()

    got = rows()
    assert set(got) == {"chat:room", "api:jobs-list"}
    room = got["chat:room"]
    assert room.metric_type == "histogram" and room.service_name == "http" and room.unit == "ms"
    assert room.value == Decimal("95.000000")
    assert room.tags["count"] == 100 and room.tags["errors"] == 0
    assert room.tags["p50"] == pytest.approx(50, abs=1) and room.tags["max"] == pytest.approx(100)
    assert room.tags["kind"] == "web" and room.tags["server_id"].endswith(f":{os.getpid()}")
    assert got["api:jobs-list"].tags["errors"] == 1 and got["api:jobs-list"].value == Decimal("500.000000")
    # The same minute's system_metrics, at the same instant.
    overall = SystemMetric.objects.get(metric_name="response_time")
    assert overall.tags["requests"] == 102 and overall.created_at == room.created_at
    assert SystemMetric.objects.count() == len(METRIC_NAMES)


def test_an_idle_minute_writes_no_performance_rows():
    Sampler("worker").sample()
    assert PerformanceMetric.objects.count() == 0 and SystemMetric.objects.count() == len(METRIC_NAMES)


def test_requests_through_the_middleware_are_counted_by_route_name(client, make_user):
    client.force_login(make_user("root", is_staff=True))
    assert client.get("/staff/dashboard/").status_code == 200
    assert client.get("/metrics").status_code == 403
    assert client.get("/no/such/page/").status_code == 404

    Sampler("web").sample()

    got = rows()
    assert {"ops:dashboard", "metrics", "<unmatched>"} <= set(got)
    assert got["ops:dashboard"].tags["count"] == 1 and got["ops:dashboard"].value > 0


def test_fanout_latency_from_live_deliveries():
    cursor = cursors.encode(timezone.now() - timedelta(milliseconds=250), uuid.uuid4())
    for _ in range(3):
        signals.message_delivered.send(sender=Delivery, cursor=cursor)

    Sampler("web").sample()

    (row,) = PerformanceMetric.objects.filter(metric_name=FANOUT_LATENCY)
    assert row.service_name == "channels" and row.tags["count"] == 3 and "view" not in row.tags
    assert Decimal("250") <= row.value < Decimal("5000")


def test_the_max_is_the_true_one_past_the_reservoir():
    counters.request_done(9.0, 200, "slow")
    for _ in range(counters.VIEW_RESERVOIR * 20):
        counters.request_done(0.001, 200, "slow")
    Sampler("web").sample()
    assert rows()["slow"].tags["max"] == pytest.approx(9000) and rows()["slow"].value == Decimal("1.000000")


def test_the_views_a_minute_are_bounded():
    for i in range(counters.VIEWS_MAX + 25):
        counters.request_done(0.01, 200, f"view-{i}")
    Sampler("web").sample()
    got = rows()
    assert len(got) == counters.VIEWS_MAX + 1
    assert got[counters.OTHER_VIEW].tags["count"] == 25


def test_the_type_check_and_the_seeds_indexes():
    with pytest.raises(IntegrityError), transaction.atomic():
        PerformanceMetric.objects.create(metric_name="x", metric_type="summary", service_name="http", value=1,
                                         created_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'performance_metrics'")
        names = {name for (name,) in cursor.fetchall()}
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_perf_metrics_tags'")
        (tags_index,) = cursor.fetchone()
    assert {"idx_perf_metrics_name", "idx_perf_metrics_service", "idx_perf_metrics_created_at",
            "idx_perf_metrics_tags"} <= names
    assert "USING gin (tags)" in tags_index


def seed_minutes(now):
    """Two processes, two views, over the last three hours; and a worker,
    which answers no requests."""
    made = []
    for minutes_ago in range(0, 180, 5):
        at = now - timedelta(minutes=minutes_ago)
        for server in ("web-1:10", "web-2:20"):
            for view, p95, count in (("chat:room", 40, 30), ("api:jobs-list", 400, 2)):
                made.append(PerformanceMetric(
                    metric_name=HTTP_REQUEST_DURATION, metric_type="histogram", service_name="http", unit="ms",
                    value=Decimal(p95), created_at=at,
                    tags={"view": view, "count": count, "errors": 1 if view == "api:jobs-list" else 0,
                          "server_id": server, "kind": "web"}))
            # The same minute's overall p95 (system_metrics), which the chart reads.
            SystemMetric.objects.create(metric_name="response_time", metric_value=62.5, created_at=at,
                                        server_id=server, tags={"unit": "ms_p95", "requests": 32, "kind": "web"})
            made.append(PerformanceMetric(metric_name=FANOUT_LATENCY, metric_type="histogram", service_name="channels",
                                          unit="ms", value=Decimal(12), created_at=at,
                                          tags={"count": 10, "errors": 0, "server_id": server, "kind": "web"}))
    PerformanceMetric.objects.bulk_create(made)
    SystemMetric.objects.create(metric_name="response_time", metric_value=0, created_at=now, server_id="worker-1:30",
                                tags={"unit": "ms_p95", "requests": 0, "kind": "worker"})


def test_the_dashboard_charts_latency_and_lists_the_slowest_endpoints(client, make_user):
    seed_minutes(timezone.now())
    client.force_login(make_user("root", is_staff=True))
    html = client.get("/staff/dashboard/?range=24h").content.decode()
    assert 'data-testid="chart-latency"' in html
    table = html.split('data-testid="endpoints"')[1].split("</section>")[0]
    assert table.index("api:jobs-list") < table.index("chat:room")  # slowest first
    assert "<td class=\"num\">144</td>" in table  # 36 minutes x 2 processes x 2 requests
    assert "400.0" in table and "40.0" in table

    csv = client.get("/staff/dashboard/export/latency.csv?range=24h").content.decode().splitlines()
    assert csv[0] == "bucket,HTTP requests,fan-out"
    last = csv[-1].split(",")
    # Request-weighted: the worker's idle minute (0 ms, 0 requests) weighs nothing.
    assert float(last[1]) == pytest.approx(62.5) and float(last[2]) == pytest.approx(12)
    # 90 days: the table covers the last 7 days only (a cheap scan).
    html = client.get("/staff/dashboard/?range=90d").content.decode()
    assert "Slowest endpoints <span class=\"muted\">· last 7d</span>" in html


def test_slowest_endpoints_are_staff_only(make_user):
    from core.errors import PermissionDenied
    from ops.selectors import slowest_endpoints_for

    seed_minutes(timezone.now())
    since = timezone.now() - timedelta(hours=1)
    got = slowest_endpoints_for(actor=make_user("root", is_staff=True), since=since)
    assert [(e.view, e.requests, e.errors) for e in got] == [("api:jobs-list", 48, 24), ("chat:room", 720, 0)]
    with pytest.raises(PermissionDenied):
        slowest_endpoints_for(actor=make_user("plain"), since=since)
    old = PerformanceMetric.objects.first()
    PerformanceMetric.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8),
                                                       tags={**old.tags, "view": "ancient"})
    assert "ancient" not in {e.view for e in slowest_endpoints_for(actor=make_user("root2", is_staff=True),
                                                                    since=timezone.now() - timedelta(days=90))}
