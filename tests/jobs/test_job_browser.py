"""The job page shows live progress in a real browser (Debian's chromium via
Playwright) on a real uvicorn process: the bar moves while rclone runs and
ends at 100 with the log, driven by the socket's job.progress and job.log
frames (the page does not poll while the socket is up)."""

import os
import tempfile
import threading

import pytest
from django.db import connection

from jobs import services, tasks
from tests.browser import ARGS, CHROMIUM, require_chromium, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_job_page_shows_live_progress(power, make_local, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    make_local("src", {"big.bin": os.urandom(1_000_000)})
    make_local("dst")
    job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/"}, options={"bwlimit": "250K", "verbose": True})
    session = session_for(power)

    def run():
        try:
            tasks.execute(job.id)
        finally:
            connection.close()  # this thread's own connection

    worker = threading.Thread(target=run)
    job_reads = []
    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p:
        context = p.chromium.launch_persistent_context(tempfile.mkdtemp(prefix="teamhub-jobs-chromium-"),
                                                       executable_path=CHROMIUM, headless=True, args=ARGS)
        context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("request", lambda r: job_reads.append(r.url) if r.url.endswith(f"/api/v1/jobs/{job.pk}/") else None)
        page.goto(f"{base}/jobs/{job.pk}/")
        expect(page.locator("[data-testid=job-status]")).to_have_text("queued")
        page.wait_for_selector("#job[data-live=true]", state="attached")
        reads_before = len(job_reads)
        worker.start()
        # Mid-transfer: running, and the bar has moved but is not full.
        expect(page.locator("[data-testid=job-status]")).to_have_text("running")
        page.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=job-progress]').value; return v > 0 && v < 100; }"
        )
        expect(page.locator("[data-field=transferring]")).to_contain_text("big.bin")
        expect(page.locator("[data-testid=job-status]")).to_have_text("completed")
        assert page.locator("[data-testid=job-progress]").evaluate("el => el.value") == 100
        expect(page.locator("[data-testid=job-log]")).to_contain_text("Copied")
        # Every change since the socket was ready came as frames, not reads.
        assert len(job_reads) == reads_before
        context.close()
    worker.join(30)
