"""The job page's live labels in 简体中文 and 한국어 in a real browser
(issue 19): the language is switched by posting the language switcher's
form (/accounts/language/, which changes a signed-in user's profile), then
a real copy with the local rclone remote runs while the page shows its
progress over the socket, in the language's words (the JavaScript catalog
at /jsi18n/ and static/js/figures.js). Reuses the jobs browser tests'
server, chromium and worker helpers. With SCREENSHOT_DIR set, the running
job page is saved as jobs-zh-hans-*.png and jobs-ko-*.png."""

import os
import re

import pytest

from jobs import services
from jobs.models import Job
from tests.browser import session_for
from tests.jobs.test_jobs_ui_browser import _orm, _shots, _worker, browser_page  # noqa: F401 - the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZE = r"\d+(\.\d)? (B|KiB|MiB|GiB)"
WORDS = {
    # status while running, the ETA, the speed's "/s", "of", the card's headings
    "zh-hans": {"running": "运行中", "completed": "已完成", "eta": r"^\d+ (秒|分钟)", "per_second": "/秒",
                "of": " / ", "headings": ["已传输", "速度", "剩余时间", "文件"], "attempt": "第 1 次尝试，共 4 次"},
    "ko": {"running": "실행 중", "completed": "완료", "eta": r"^\d+(초|분)", "per_second": "/초",
           "of": " / ", "headings": ["전송됨", "속도", "남은 시간", "파일"], "attempt": "시도 1/4"},
}


def _switch_language(page, language: str) -> None:
    """Post the language switcher's form from the page, as its select does."""
    status = page.evaluate("""async (language) => {
        const token = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
        const body = new FormData();
        body.append("csrfmiddlewaretoken", decodeURIComponent(token));
        body.append("language", language);
        body.append("next", location.pathname);
        const response = await fetch("/accounts/language/", {method: "POST", body, credentials: "same-origin"});
        return response.status;
    }""", language)
    assert status == 200  # followed the redirect back to the page


def test_the_job_pages_live_progress_labels_follow_the_switched_language(browser_page, power, make_local):  # noqa: F811
    from playwright.sync_api import expect

    make_local("src", {"big.bin": os.urandom(1_200_000), "b.txt": "b"})
    make_local("dst")
    base, page = browser_page(session_for(power))
    page.goto(f"{base}/jobs/")
    for language, words in WORDS.items():
        _switch_language(page, language)
        assert _orm(lambda: type(power).objects.get(pk=power.pk).profile.language) == language
        job = _orm(lambda language=language: services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                                               destination={"remote": "dst", "path": f"/{language}"},
                                               options={"bwlimit": "300K"}))
        page.goto(f"{base}/jobs/{job.pk}/")
        page.wait_for_selector("#job[data-live=true]", state="attached")
        worker = _worker(job.id)
        expect(page.locator("[data-testid=job-status]")).to_have_text(words["running"])
        page.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=job-progress]').value; return v > 0 && v < 100; }")
        # The live frames' figures, written by the scripts in the reader's words.
        expect(page.locator("[data-testid=job-eta]")).to_have_text(re.compile(words["eta"]))
        expect(page.locator("[data-testid=job-speed]")).to_have_text(
            re.compile(rf"^{SIZE}{re.escape(words['per_second'])}$"))
        expect(page.locator("[data-testid=job-bytes]")).to_have_text(
            re.compile(rf"^{SIZE}{re.escape(words['of'])}1.1 MiB$"))
        expect(page.locator("[data-field=attempt]")).to_have_text(words["attempt"])
        card = page.locator("section.when-active").inner_text()
        assert all(h in card for h in words["headings"]), card
        assert "ETA" not in card and " of " not in card and "/s" not in card
        _shots(page, f"jobs-{language}")
        expect(page.locator("[data-testid=job-status]")).to_have_text(words["completed"], timeout=60_000)
        worker.join(30)
        assert _orm(lambda job=job: Job.objects.get(pk=job.pk).status) == "completed"
