"""The staff dashboard in a real browser: the charts are drawn (SVG with
lines), the range picker switches, a CSV downloads; screenshots at 1280
and 390 px when SCREENSHOT_DIR is set."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.models import Job
from ops.models import FANOUT_LATENCY, HTTP_REQUEST_DURATION, DailyStat, PerformanceMetric, SystemMetric, UserStatistic
from ops.services.events import event_record
from tests.browser import ARGS, CHROMIUM, require_chromium, session_for

pytestmark = pytest.mark.e2e


def seed_data(user):
    now = timezone.now()
    for hour in range(0, 7 * 24, 3):
        finished = now - timedelta(hours=hour)
        for n in range(hour % 4):
            job = Job.objects.create(user=user, type="copy", payload={"source": {}})
            failed = n == 2 and hour % 12 == 3
            Job.objects.filter(pk=job.pk).update(status="failed" if failed else "completed", result={"bytes": 1000},
                                                 created_at=finished - timedelta(minutes=2), completed_at=finished)
    for offset in range(90):
        day = (now - timedelta(days=offset)).date()
        DailyStat.objects.create(stat_date=day, total_users=200 - offset, active_users=40 + offset % 7 * 5,
                                 new_users=offset % 4, total_rooms=30, new_rooms=offset % 2,
                                 total_messages=9000 - offset * 50, new_messages=300 + (offset % 5) * 40,
                                 storage_used_bytes=(500 - offset * 3) * 1_000_000)
    rows = []
    for minute in range(0, 24 * 60, 10):
        at = now - timedelta(minutes=minute)
        for server in ("web-1:100", "web-2:200"):
            rows.append(SystemMetric(metric_name="active_connections", metric_value=20 + (minute // 60) % 9,
                                     created_at=at, server_id=server))
            rows.append(SystemMetric(metric_name="message_rate", metric_value=5 + (minute // 30) % 6,
                                     created_at=at, server_id=server))
    SystemMetric.objects.bulk_create(rows)
    for offset in range(14):
        UserStatistic.objects.create(user=user, date=(now - timedelta(days=offset)).date(), messages_sent=20 + offset,
                                     files_uploaded=offset % 3, bytes_transferred=offset * 3_500_000,
                                     jobs_run=offset % 4, online_seconds=1800 + offset * 600)
    latency, overall = [], []
    for minute in range(0, 24 * 60, 10):
        at = now - timedelta(minutes=minute)
        wave = (minute // 60) % 6
        for view, p95, count in (("chatroom:room", 35 + wave * 4, 40), ("api:job-list", 180 + wave * 25, 6),
                                 ("accounts:profile", 20 + wave, 12)):
            latency.append(PerformanceMetric(
                metric_name=HTTP_REQUEST_DURATION, metric_type="histogram", service_name="http", unit="ms",
                value=Decimal(p95), created_at=at,
                tags={"view": view, "count": count, "errors": 1 if wave == 5 and count == 6 else 0, "p50": p95 / 2,
                      "max": p95 * 2, "server_id": "web-1:100", "kind": "web"}))
        overall.append(SystemMetric(metric_name="response_time", metric_value=50 + wave * 8, created_at=at,
                                    server_id="web-1:100", tags={"unit": "ms_p95", "requests": 58, "kind": "web"}))
        latency.append(PerformanceMetric(
            metric_name=FANOUT_LATENCY, metric_type="histogram", service_name="channels", unit="ms",
            value=Decimal(8 + wave * 3), created_at=at,
            tags={"count": 50, "errors": 0, "p50": 4, "max": 40, "server_id": "web-1:100", "kind": "web"}))
    PerformanceMetric.objects.bulk_create(latency)
    SystemMetric.objects.bulk_create(overall)
    event_record(event_type="maintenance", event_name="core.tasks.partitions_maintain",
                 data={"state": "SUCCESS", "result": {"done": [
                     "system_metrics: create system_metrics_2027_04 [2027-04-01 .. 2027-05-01)",
                     "performance_metrics: create performance_metrics_2027_04 [2027-04-01 .. 2027-05-01)"],
                     "errors": []}})
    event_record(event_type="audit", event_name="verification",
                 data={"ok": True, "checked": 1204, "first_broken": None, "task": "audit.tasks.audit_verify_recent"})
    event_record(event_type="audit", event_name="anchor",
                 data={"anchor": {"head_id": "0b6f2f0e-4f43-4a3c-9d43-1f1e2b7c9a10",
                                  "head_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}})
    event_record(event_type="worker", event_name="lost", data={"task": "jobs.run", "error": "<script>x</script>"})


def test_the_dashboard_draws_its_charts(live_server, make_user):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    root = make_user("root", is_staff=True, is_superuser=True)
    seed_data(root)
    session = session_for(root)
    base = live_server.url
    shots = os.environ.get("SCREENSHOT_DIR")
    profile_dir = tempfile.mkdtemp(prefix="teamhub-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(profile_dir, executable_path=CHROMIUM, headless=True,
                                                           args=ARGS, accept_downloads=True,
                                                           viewport={"width": 1280, "height": 900})
            from django.conf import settings

            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(base + "/admin/")
            page.click("[data-testid=dashboard-link]")
            expect(page).to_have_url(base + "/staff/dashboard/")
            for key in ("activity", "storage", "live", "latency", "jobs"):
                chart = page.locator(f"[data-testid=chart-{key}] .svg-wide svg")
                expect(chart).to_be_visible()
                box = chart.bounding_box()
                assert box["width"] > 300 and box["height"] > 100, (key, box)
            # Lines were drawn: pygal's series paths, one per series with data.
            assert page.locator("[data-testid=chart-activity] .svg-wide svg path.line").count() >= 3
            assert page.locator("[data-testid=chart-live] .svg-wide svg path.line").count() >= 2
            assert page.locator("[data-testid=chart-latency] .svg-wide svg path.line").count() >= 2
            expect(page.locator("[data-testid=endpoints] tbody tr").first).to_contain_text("api:job-list")
            expect(page.locator("[data-testid=events]")).to_contain_text("head_hash: 9f86d0")
            expect(page.locator("[data-testid=events]")).not_to_contain_text("{'")
            expect(page.locator("[data-testid=health] [data-part=database].ok")).to_be_visible()

            page.click("[data-testid=range-90d]")
            expect(page.locator("[data-testid=range-90d]")).to_have_attribute("aria-current", "page")
            expect(page.locator("[data-testid=chart-activity] .svg-wide svg")).to_be_visible()
            with page.expect_download() as download:
                page.click("[data-testid=csv-activity]")
            path = download.value.path()
            lines = Path(path).read_text().splitlines()
            assert lines[0] == "bucket,total users,active users,new messages" and len(lines) == 91

            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.click("[data-testid=range-7d]")
                expect(page.locator("[data-testid=chart-jobs] .svg-wide svg")).to_be_visible()
                page.screenshot(path=f"{shots}/ops-dashboard-1280.png", full_page=True)
                page.set_viewport_size({"width": 390, "height": 844})
                page.reload()
                # The narrow drawing, at about its own size: labels stay readable.
                narrow = page.locator("[data-testid=chart-activity] .svg-narrow svg")
                expect(narrow).to_be_visible()
                expect(page.locator("[data-testid=chart-activity] .svg-wide svg")).to_be_hidden()
                assert narrow.bounding_box()["width"] >= 300
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, width
                page.screenshot(path=f"{shots}/ops-dashboard-390.png", full_page=True)
                # The ops tables in the admin, at both widths.
                for model in ("dailystat", "userstatistic", "systemmetric", "performancemetric", "systemevent"):
                    for width in (1280, 390):
                        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
                        page.goto(f"{base}/admin/ops/{model}/")
                        expect(page.locator("#changelist")).to_be_visible()
                        width_now = page.evaluate("document.documentElement.scrollWidth")
                        assert width_now <= width, (model, width, width_now)
                        page.screenshot(path=f"{shots}/ops-admin-{model}-{width}.png", full_page=True)
                page.set_viewport_size({"width": 390, "height": 844})
                page.goto(f"{base}/admin/ops/systemevent/")
                page.locator("#result_list tbody tr a").first.click()
                expect(page.locator("ul.kv").first).to_be_visible()
                page.screenshot(path=f"{shots}/ops-admin-systemevent-detail-390.png", full_page=True)
            context.close()
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)
