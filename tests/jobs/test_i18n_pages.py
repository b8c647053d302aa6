"""The jobs face and the error pages in 简体中文 and 한국어 (issue 19): each
page renders in the profile's language with no English left in what a
person reads (tests/i18n_text.py; the allow-list is tests/i18n_terms.py),
figures use the language's words, and the jobs API's errors come back in
the user's language with English codes."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone, translation

from accounts.services import profile_update
from jobs import figures, services
from jobs.models import Job
from tests.i18n_text import english_left, visible_text

pytestmark = pytest.mark.django_db

HANZI = re.compile(r"[\u4e00-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = {"zh-hans": HANZI, "ko": HANGUL}
NAMES = {"power", "src", "dst", "nightly"}  # what the tests below create


@pytest.fixture
def pages(client, power, make_local):
    """A signed-in power user with a remote, a running job with live
    figures, a schedule and a grant: every part of the jobs pages shows."""
    make_local("src", {"a.txt": "a"})
    make_local("dst")
    job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/"})
    Job.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now(), progress=40, result={
        "bytes": 10_590_617, "total_bytes": 26_214_400, "speed": 1_048_576, "eta": 15, "transfers": 1,
        "total_transfers": 3, "transferring": [{"name": "a.txt", "percentage": 40, "size": 26_214_400}]})
    services.schedule_create(actor=power, name="nightly", rule_type="cron", cron_expression="30 2 * * 1,5",
                             timezone_name="Asia/Seoul",
                             job_template={"type": "copy", "source": {"remote": "src", "path": "/"},
                                           "destination": {"remote": "dst", "path": "/"}})
    client.force_login(power)
    return client, power, job


URLS = {
    "job list": "/jobs/",
    "new job": "/jobs/new/",
    "job detail": "/jobs/{job}/",
    "remotes": "/jobs/remotes/",
    "new remote": "/jobs/remotes/new/",
    "schedules": "/jobs/schedules/",
    "permissions": "/jobs/remotes/src/permissions/",
}


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("page", list(URLS))
def test_each_jobs_page_has_no_english_left(pages, language, page):
    client, power, job = pages
    profile_update(actor=power, user=power, language=language)
    response = client.get(URLS[page].format(job=job.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == language
    html = response.content.decode()
    assert english_left(html, names=NAMES) == []
    # ... and it is the language, not an empty page.
    assert SCRIPT[language].search(" ".join(visible_text(html)))


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_the_job_page_figures_are_in_the_readers_words(pages, language):
    client, power, job = pages
    profile_update(actor=power, user=power, language=language)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    eta, speed = {"zh-hans": ("15 秒", "1 MiB/秒"), "ko": ("15초", "1 MiB/초")}[language]
    assert f'data-testid="job-eta">{eta}<' in html and f'data-testid="job-speed">{speed}<' in html
    assert "10.1 MiB / 25 MiB" in html  # "of" is a slash in both
    assert "/jsi18n/" in html  # the scripts' catalog, for the live updates


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("status", [403, 404])
def test_the_error_pages_have_no_english_left(client, power, language, status):
    profile_update(actor=power, user=power, language=language)
    client.force_login(power)
    if status == 404:  # any unknown page
        response = client.get("/jobs/no-such-page/")
    else:  # a PermissionDenied from a view (handler403), as tests/test_error_pages.py makes one
        from django.core.exceptions import PermissionDenied
        from django.test import RequestFactory

        from accounts.languages import activate_for
        from config import views

        request = RequestFactory().get("/jobs/")
        request.user = type(power).objects.get(pk=power.pk)  # the profile as saved
        with translation.override("en"):
            activate_for(request.user, request)
            response = views.permission_denied(request, PermissionDenied())
    assert response.status_code == status
    html = response.content.decode()
    assert 'data-testid="error-page"' in html
    assert english_left(html, names=NAMES) == []
    assert SCRIPT[language].search(" ".join(visible_text(html)))


def test_figures_use_the_languages_words_and_english_stays_as_it_was():
    with translation.override("en"):
        assert figures.eta(3725) == "ETA 1 h 2 min" and figures.size_of(0, 1024) == "0 B of 1 KiB"
    with translation.override("zh-hans"):
        assert figures.eta(15) == "剩余 15 秒" and figures.duration(90000) == "1 天 1 小时"
        assert figures.speed(10_590_617) == "10.1 MiB/秒" and figures.count(3, 12) == "3 / 12"
    with translation.override("ko"):
        assert figures.eta(15) == "남은 시간 15초" and figures.duration(125) == "2분 5초"
        assert figures.duration(0.4) == "0.4초"


def test_a_jobs_api_error_comes_back_in_korean_for_a_korean_user(power, make_local):
    from rest_framework.test import APIClient

    make_local("src")
    profile_update(actor=power, user=power, language="ko")
    api = APIClient()
    login = api.post("/api/v1/auth/login", {"login": "power", "password": "correct horse battery staple"},
                     format="json")
    assert login.status_code == 200, login.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    refused = api.post("/api/v1/jobs/", {"type": "copy", "source": {"remote": "src", "path": "/"}},
                       format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["code"] == "validation_error"  # codes stay English: they are the contract
    assert HANGUL.search(" ".join(error["fields"]["destination"])), error
    missing = api.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "해당 작업이 없습니다."}


def test_the_javascript_catalog_serves_the_jobs_strings_in_the_language(client):
    ko = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "\\ub0a8\\uc740 \\uc2dc\\uac04 %(duration)s" in ko or "남은 시간 %(duration)s" in ko
    zh = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "\\u5269\\u4f59 %(duration)s" in zh or "剩余 %(duration)s" in zh


def test_flash_messages_and_form_errors_are_in_the_readers_language(pages):
    client, power, job = pages
    profile_update(actor=power, user=power, language="ko")
    cancelled = client.post(f"/jobs/{job.pk}/cancel/", follow=True).content.decode()
    assert "취소를 요청했습니다." in cancelled
    refused = client.post("/jobs/schedules/", {"name": "n", "repeat": "weekly", "at_time": "02:00",
                                               "timezone": "UTC", "type": "copy", "source_remote": "src"})
    assert refused.status_code == 200 and "요일을 하나 이상 고르세요." in refused.content.decode()
    profile_update(actor=power, user=power, language="zh-hans")
    bad_remote = client.post("/jobs/remotes/new/", {"name": "bad name", "type": "local", "opt_root": "/etc"})
    html = bad_remote.content.decode()
    error = re.search(r'data-testid="form-error">([^<]*)<', html)
    assert bad_remote.status_code == 200 and error, html[-3000:]
    assert HANZI.search(error[1]) and not re.search(r"[A-Za-z]{3,}", error[1].replace("RCLONE_LOCAL_ROOTS", "")), error[1]
