"""The staff dashboard in a real browser: the charts are drawn (SVG with
lines), the range picker switches, a CSV downloads; screenshots at 1280
and 390 px when SCREENSHOT_DIR is set."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ops.models import DailyStat, SystemMetric
from tests.browser import ARGS, CHROMIUM, require_chromium, session_for

pytestmark = pytest.mark.e2e


def seed_data():
    now = timezone.now()
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


def test_the_dashboard_draws_its_charts(live_server, make_user):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    seed_data()
    session = session_for(make_user("root", is_staff=True))
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
            for key in ("activity", "storage", "live", "jobs"):
                chart = page.locator(f"[data-testid=chart-{key}] svg")
                expect(chart).to_be_visible()
                box = chart.bounding_box()
                assert box["width"] > 300 and box["height"] > 100, (key, box)
            # Lines were drawn: pygal's series paths, one per series with data.
            assert page.locator("[data-testid=chart-activity] svg path.line").count() >= 3
            assert page.locator("[data-testid=chart-live] svg path.line").count() >= 2
            expect(page.locator("[data-testid=health] [data-part=database].ok")).to_be_visible()

            page.click("[data-testid=range-90d]")
            expect(page.locator("[data-testid=range-90d]")).to_have_attribute("aria-current", "page")
            expect(page.locator("[data-testid=chart-activity] svg")).to_be_visible()
            with page.expect_download() as download:
                page.click("[data-testid=csv-activity]")
            path = download.value.path()
            lines = Path(path).read_text().splitlines()
            assert lines[0] == "bucket,total users,active users,new messages" and len(lines) == 91

            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.click("[data-testid=range-7d]")
                expect(page.locator("[data-testid=chart-jobs] svg")).to_be_visible()
                page.screenshot(path=f"{shots}/ops-dashboard-1280.png", full_page=True)
                page.set_viewport_size({"width": 390, "height": 844})
                page.reload()
                expect(page.locator("[data-testid=chart-activity] svg")).to_be_visible()
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, width
                page.screenshot(path=f"{shots}/ops-dashboard-390.png", full_page=True)
            context.close()
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)
