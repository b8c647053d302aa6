"""Issue 17's job, remote and schedule pages in a real browser (Debian's
chromium through Playwright, a real uvicorn, real rclone on local folders):
a sync previewed with --dry-run, then run for real with live progress in
readable units; a schedule's next runs appearing as the rule is typed; the
error pages; and no sideways scrolling at 390 px. With SCREENSHOT_DIR set,
each page is saved there at 1280 and 390 px."""

import os
import re
import tempfile
import threading
from pathlib import Path

import pytest
from django.db import connection

from jobs import services, tasks
from jobs.models import Job
from tests.browser import ARGS, CHROMIUM, require_chromium, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZE = r"\d+(\.\d)? (B|KiB|MiB|GiB)"
RAW = re.compile(r"\d{6,}")


def _worker(job_id) -> threading.Thread:
    def run():
        try:
            tasks.execute(job_id)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _orm(fn):
    """``fn()`` on a thread of its own: Django refuses the ORM inside Playwright's event loop."""
    from concurrent.futures import ThreadPoolExecutor

    def run():
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _shots(page, name: str) -> None:
    """Save the page at 1280 and 390 px (SCREENSHOT_DIR), and check it never scrolls sideways at 390."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        wide = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"{name} scrolls sideways by {wide} px at {width} px"
        if os.environ.get("SCREENSHOT_DIR"):
            page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def browser_page(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    opened = []

    def open_page(session):
        servers = asgi_servers(1, tmp_path)
        (base,) = servers.__enter__()
        playwright = sync_playwright().start()
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="teamhub-jobsui-chromium-"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        opened.append((servers, playwright, context))
        return base, page

    yield open_page
    for servers, playwright, context in opened:
        context.close()
        playwright.stop()
        servers.__exit__(None, None, None)


def test_preview_then_real_run_with_live_readable_progress(browser_page, power, make_local):
    from playwright.sync_api import expect

    make_local("src", {"big.bin": os.urandom(1_200_000), "notes/readme.txt": "hello", "b.txt": "b"})
    _, dst_root = make_local("dst", {"stale.txt": "old"})
    base, page = browser_page(session_for(power))

    page.goto(f"{base}/jobs/new/")
    page.select_option("[name=type]", "sync")
    expect(page.locator("[data-deletes-hint]")).to_be_visible()  # sync deletes: preview is put first
    expect(page.locator("[data-testid=preview]")).to_have_class(re.compile("primary"))
    page.select_option("[name=source_remote]", "src")
    page.select_option("[name=destination_remote]", "dst")
    page.fill("[name=bwlimit]", "300K")  # slow enough to watch the real run live
    page.click("[data-browse=source]")
    expect(page.locator("[data-picker-list=source]")).to_contain_text("big.bin")
    expect(page.locator("[data-picker-list=source]")).to_contain_text("1.1 MiB")
    _shots(page, "job-new")
    page.click("[data-testid=preview]")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    preview = _orm(lambda: Job.objects.get())
    assert preview.options["dry_run"] is True
    page.wait_for_selector("#job[data-live=true]", state="attached")
    _worker(preview.id).join(60)
    expect(page.locator("[data-testid=job-status]")).to_have_text("completed")
    box = page.locator("[data-testid=preview]")
    expect(box.locator("[data-preview-group=copy]")).to_contain_text("big.bin")
    expect(box.locator("[data-preview-group=copy]")).to_contain_text("1.1 MiB")
    expect(box.locator("[data-preview-group=delete]")).to_contain_text("stale.txt")
    assert sorted(p.name for p in dst_root.iterdir()) == ["stale.txt"]
    expect(page.locator("[data-testid=run-for-real]")).to_be_visible()
    expect(page.locator("[data-testid=cancel]")).to_be_hidden()
    _shots(page, "job-preview")

    page.click("[data-testid=run-for-real]")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    real = _orm(lambda: Job.objects.exclude(pk=preview.pk).get())
    assert page.url.endswith(f"/jobs/{real.pk}/") and "dry_run" not in real.options
    page.wait_for_selector("#job[data-live=true]", state="attached")
    expect(page.locator("[data-testid=cancel]")).to_be_visible()
    expect(page.locator("[data-testid=retry]")).to_be_hidden()
    worker = _worker(real.id)
    expect(page.locator("[data-testid=job-status]")).to_have_text("running")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=job-progress]').value; return v > 0 && v < 100; }")
    expect(page.locator("[data-testid=job-speed]")).to_have_text(re.compile(rf"^{SIZE}/s$"))
    expect(page.locator("[data-testid=job-eta]")).to_have_text(re.compile(r"^\d+ (s|min)"))
    expect(page.locator("[data-testid=job-bytes]")).to_have_text(re.compile(rf"^{SIZE} of 1.1 MiB$"))
    expect(page.locator("[data-field=transferring]")).to_contain_text("big.bin")
    assert not RAW.search(page.locator("#job").inner_text())
    _shots(page, "job-running")
    expect(page.locator("[data-testid=job-status]")).to_have_text("completed", timeout=60_000)
    worker.join(30)
    # The end: totals, no stale speed/ETA/file rows, only what the state allows.
    expect(page.locator("[data-testid=job-totals]")).to_be_visible()
    expect(page.locator("[data-total=bytes]")).to_have_text("1.1 MiB")
    expect(page.locator("[data-total=transfers]")).to_have_text("3")
    expect(page.locator("[data-total=average]")).to_have_text(re.compile(rf"^{SIZE}/s$"))
    expect(page.locator("[data-testid=job-eta]")).to_be_hidden()
    expect(page.locator("[data-field=transferring] li")).to_have_count(0)
    expect(page.locator("[data-testid=cancel]")).to_be_hidden()
    expect(page.locator("[data-testid=job-log]")).to_contain_text(re.compile(r"Completed after .*3 files, 1.1 MiB"))
    assert not RAW.search(page.locator("main").inner_text())
    assert sorted(p.name for p in dst_root.iterdir()) == ["b.txt", "big.bin", "notes"]
    _shots(page, "job-finished")
    page.goto(f"{base}/jobs/")
    _shots(page, "job-list")


def test_schedule_next_runs_appear_as_the_rule_is_typed(browser_page, power, make_local):
    from playwright.sync_api import expect

    make_local("src")
    make_local("dst")
    services.remote_create(actor=power, name="dav", type="webdav", options={"url": "http://127.0.0.1:9/", "pass": "pw"})
    base, page = browser_page(session_for(power))
    page.goto(f"{base}/jobs/schedules/")
    runs = page.locator("[data-testid=next-runs] li")
    expect(runs).to_have_count(5)  # the default: every day at 02:00 UTC
    expect(runs.first).to_have_text(re.compile(r"^\w{3} \d{1,2} \w{3} \d{4}, 02:00 UTC$"))
    page.select_option("[data-repeat]", "weekly")
    page.check("[name=weekdays][value='3']")
    page.fill("[name=at_time]", "07:45")
    page.fill("[name=timezone]", "Asia/Tokyo")
    expect(runs.first).to_have_text(re.compile(r"^Wed \d{1,2} \w{3} \d{4}, 07:45 JST$"))
    expect(runs).to_have_count(5)
    expect(page.locator("[data-preview-zone]")).to_have_text("(Every Wed at 07:45, Asia/Tokyo)")
    page.select_option("[data-repeat]", "cron")
    page.fill("[name=cron_expression]", "61 * * * *")
    expect(page.locator("[data-testid=preview-error]")).to_be_visible()
    expect(runs).to_have_count(0)
    page.fill("[name=cron_expression]", "*/30 9-17 * * 1-5")
    expect(runs).to_have_count(5)
    expect(runs.first).to_have_text(re.compile(r", (09|1[0-7]):(00|30) JST$"))
    page.fill("[name=name]", "office hours")
    page.select_option("[name=source_remote]", "src")
    page.select_option("[name=destination_remote]", "dst")
    _shots(page, "schedules")
    page.click("text=Create schedule")
    expect(page.locator(".messages")).to_contain_text("Schedule office hours created")
    page.click("[data-testid=run-now]")
    expect(page.locator(".messages")).to_contain_text("Started a copy job from “office hours”: src:/ → dst:/")
    page.click(".messages >> text=open job")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))

    page.goto(f"{base}/jobs/remotes/")
    page.click("[data-browse-remote=src]")
    expect(page.locator("[data-browse-list=src]")).to_contain_text("This folder is empty")
    _shots(page, "remotes")
    page.goto(f"{base}/jobs/remotes/new/?type=s3")
    _shots(page, "remote-new-s3")
    page.goto(f"{base}/jobs/remotes/src/permissions/")
    _shots(page, "permissions")
    page.goto(f"{base}/jobs/remotes/dav/edit/")
    assert page.locator("#opt_pass").input_value() == ""
    _shots(page, "remote-edit-webdav")


def test_error_pages_in_the_layout(browser_page, power):
    from playwright.sync_api import expect

    base, page = browser_page(session_for(power))
    response = page.goto(f"{base}/jobs/00000000-0000-0000-0000-000000000000/")
    assert response.status == 404
    expect(page.locator("[data-testid=error-page]")).to_contain_text("Page not found")
    expect(page.locator("[data-testid=jobs-link]")).to_be_visible()  # the site's navigation
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{base}{icon}").status == 200
    _shots(page, "error-404")
    page.click(".error-ways >> text=Jobs")
    page.wait_for_url(f"{base}/jobs/")
