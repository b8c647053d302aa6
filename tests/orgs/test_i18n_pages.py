"""The org pages in 简体中文 and 한국어 (issue 19): the list, the org chart, the
directory, the settings and every management page render in the reader's
profile language with no English left in what a person reads (names aside:
tests/i18n_text.py, tests/i18n_terms.py), system roles are shown in the
reader's words, form errors and flash messages are in that language, and the
orgs API's errors come back translated with English codes."""

from __future__ import annotations

import re
from datetime import timezone as dt_timezone

import pytest
from rest_framework.test import APIClient

from accounts.services import profile_update
from orgs import services
from tests.i18n_text import english_left, visible_text

pytestmark = pytest.mark.django_db

HANZI = re.compile(r"[\u4e00-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = {"zh-hans": HANZI, "ko": HANGUL}
PASSWORD = "correct horse battery staple"
# What the world fixture (tests/orgs/conftest.py) and the tests below create.
NAMES = {"acme", "olivia", "adam", "mia", "otto", "example", "com", "backend", "engineer", "reviewer", "docs", "rd"}


@pytest.fixture
def org_world(world):
    eng = services.department_create(actor=world.owner, org=world.org, name="研发中心", handle="rd",
                                     manager=world.admin)
    services.department_create(actor=world.owner, org=world.org, name="Backend", parent=eng)
    position = services.position_create(actor=world.owner, org=world.org, title="Engineer")
    services.member_update(actor=world.owner, membership=world.org.memberships.get(user=world.member),
                           department=eng, position=position)
    services.role_create(actor=world.owner, org=world.org, name="reviewer", permissions={"docs": ["read"]})
    services.proxy_create(actor=world.owner, org=world.org, principal=world.owner, agent=world.admin,
                          permissions={"*": ["read"]})
    return world


URLS = {
    "org list": "/orgs/",
    "org chart": "/orgs/{org}/",
    "directory": "/orgs/{org}/members/",
    "settings": "/orgs/{org}/settings/",
    "departments": "/orgs/{org}/manage/departments/",
    "positions": "/orgs/{org}/manage/positions/",
    "roles": "/orgs/{org}/manage/roles/",
    "members": "/orgs/{org}/manage/members/",
    "proxies": "/orgs/{org}/manage/proxies/",
    "edit a department": "/orgs/{org}/manage/departments/?edit={department}",
}


def url(world, page):
    return URLS[page].format(org=world.org.pk, department=world.org.departments.get(name="Backend").pk)


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("page", list(URLS))
def test_each_org_page_has_no_english_left(client, org_world, language, page):
    profile_update(actor=org_world.owner, user=org_world.owner, language=language)
    client.force_login(org_world.owner)
    response = client.get(url(org_world, page), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == language
    html = response.content.decode()
    assert english_left(html, names=NAMES) == []
    assert SCRIPT[language].search(" ".join(visible_text(html)))


@pytest.mark.parametrize("page", list(URLS))
def test_each_org_page_renders_in_english(client, org_world, page):
    client.force_login(org_world.owner)
    response = client.get(url(org_world, page), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == "en"
    html = response.content.decode()
    assert english_left(html, names=NAMES)  # the English words are there...
    text = " ".join(visible_text(html))
    # ... and no translation leaked in (the display name's help shows 研发中心 and 개발팀 on purpose).
    assert not re.search("조직|组织|부서|部门|저장|保存", text), text


def test_system_roles_are_shown_in_the_readers_words_and_org_roles_by_name(client, org_world):
    profile_update(actor=org_world.owner, user=org_world.owner, language="ko")
    client.force_login(org_world.owner)
    directory = client.get(url(org_world, "directory")).content.decode()
    assert "소유자" in directory and "관리자" in directory and "구성원" in directory
    roles = client.get(url(org_world, "roles")).content.decode()
    assert "reviewer" in roles and "시스템" in roles
    chart = client.get(url(org_world, "org chart")).content.decode()
    assert "부서장: adam" in chart and "부서 미지정" in chart


def test_a_proxy_is_listed_with_a_localized_utc_time(client, org_world):
    profile_update(actor=org_world.owner, user=org_world.owner, language="zh-hans")
    client.force_login(org_world.owner)
    html = client.get(url(org_world, "proxies")).content.decode()
    proxy = org_world.org.proxies.get()
    start = proxy.starts_at.astimezone(dt_timezone.utc)
    assert f"{start.year}年{start.month}月{start.day}日" in html and f"{start:%H:%M} UTC" in html
    assert "<code>{&quot;*&quot;: [&quot;read&quot;]}</code>" in html  # the example is code, not words


def test_org_form_errors_and_flash_messages_are_in_the_readers_language(client, org_world):
    owner = org_world.owner
    client.force_login(owner)
    profile_update(actor=owner, user=owner, language="ko")
    taken = client.post(url(org_world, "departments"), {"op": "create", "name": "QA", "handle": "rd"})
    assert taken.status_code == 200
    assert "이 조직의 다른 부서가 이미 @rd 을(를) 쓰고 있습니다." in taken.content.decode()
    nobody = client.post(url(org_world, "members"), {"op": "create", "user": "nobody-here",
                                                     "role": org_world.org.memberships.first().role_id})
    assert "해당 사용자 이름을 가진 사용자가 없습니다." in nobody.content.decode()
    saved = client.post(url(org_world, "positions"), {"op": "create", "title": "Lead", "level": "2"}, follow=True)
    assert "저장했습니다." in saved.content.decode()
    profile_update(actor=owner, user=owner, language="zh-hans")
    full = client.post(url(org_world, "settings"), {"op": "update", "display_name": "Acme", "max_members": "1"})
    assert "该组织已有 3 名成员。" in full.content.decode()
    bad_json = client.post(url(org_world, "roles"), {"op": "create", "name": "x1", "permissions": "[1]"})
    assert "请输入 JSON 对象" in bad_json.content.decode()


def test_a_refused_org_page_says_why_in_the_language(client, org_world):
    member = org_world.member
    profile_update(actor=member, user=member, language="ko")
    client.force_login(member)
    refused = client.get(url(org_world, "settings"))
    assert refused.status_code == 403
    assert SCRIPT["ko"].search(" ".join(visible_text(refused.content.decode())))


def _token(username: str) -> APIClient:
    api = APIClient()
    login = api.post("/api/v1/auth/login", {"login": username, "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    return api


def test_an_orgs_api_error_comes_back_in_korean_for_a_korean_user(org_world):
    profile_update(actor=org_world.member, user=org_world.member, language="ko")
    api = _token("mia")
    base = f"/api/v1/orgs/{org_world.org.pk}"
    refused = api.post(f"{base}/departments/", {"name": "Sneaky"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"] == {"code": "permission_denied", "message": "이 조직에서 부서 쓰기 권한이 없습니다."}
    missing = api.get("/api/v1/orgs/00000000-0000-0000-0000-000000000000/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "조직을 찾을 수 없습니다."}


def test_an_orgs_api_field_error_comes_back_in_chinese(org_world):
    profile_update(actor=org_world.owner, user=org_world.owner, language="zh-hans")
    api = _token("olivia")
    base = f"/api/v1/orgs/{org_world.org.pk}"
    reserved = api.post(f"{base}/departments/", {"name": "Everyone", "handle": "all"}, format="json")
    assert reserved.status_code == 400, reserved.content
    error = reserved.json()["error"]
    assert error["code"] == "validation_error" and error["message"] == "输入无效。"
    assert error["fields"]["handle"] == ["@all 已保留用于提及整个频道。"]
    # The English reader gets the English text and the same code.
    profile_update(actor=org_world.owner, user=org_world.owner, language="en")
    english = api.post(f"{base}/departments/", {"name": "Everyone", "handle": "all"}, format="json")
    assert english.json()["error"]["fields"]["handle"] == ["@all is reserved for the whole room."]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_login_home_and_org_chart_fit_phone_and_desktop_in_the_language(make_user, tmp_path, language):
    """In a real browser, the login page (Accept-Language), the home dashboard
    and the org chart (the profile language) at 1280 and 390 px: nothing
    scrolls sideways (tests/browser.py's screenshot_pages). With
    SCREENSHOT_DIR set, the PNGs are kept there for a person to look at."""
    import os
    from pathlib import Path

    from tests.browser import (
        ARGS,
        CHROMIUM,
        require_chromium,
        screenshot_pages,
        session_for,
    )
    from tests.processes import asgi_servers

    require_chromium()
    from playwright.sync_api import sync_playwright

    from orgs.services import org_create

    owner = make_user("olivia")
    profile_update(actor=owner, user=owner, language=language, timezone="Asia/Seoul")
    org = org_create(owner=owner, name="acme", display_name="Acme 株式会社")
    eng = services.department_create(actor=owner, org=org, name="研发中心", handle="rd", manager=owner)
    services.department_create(actor=owner, org=org, name="Backend", parent=eng)
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import Job, ScheduleRule

    Job.objects.create(user=owner, type="copy", status="running", progress=40,
                       payload={"source": {"remote": "src", "path": "/photos/2026"},
                                "destination": {"remote": "backup", "path": "/photos/2026"}},
                       result={"bytes": 10_590_617, "total_bytes": 26_214_400})
    ScheduleRule.objects.create(user=owner, name="nightly", rule_type="cron", cron_expression="0 * * * *",
                                job_template={"type": "copy", "source": {"remote": "a", "path": "/"}},
                                is_active=True, next_run_at=timezone.now() + timedelta(hours=3))
    session = session_for(owner)
    shots = os.environ.get("SCREENSHOT_DIR") or str(tmp_path / "shots")
    Path(shots).mkdir(parents=True, exist_ok=True)
    accept = {"zh-hans": "zh-CN,zh;q=0.9", "ko": "ko-KR,ko;q=0.9"}[language]
    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            anonymous = browser.new_context(extra_http_headers={"Accept-Language": accept}).new_page()
            signed_in = browser.new_context()
            from django.conf import settings

            signed_in.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
            page = signed_in.new_page()
            screenshot_pages(base, shots, ((f"login-{language}", anonymous, "/accounts/login/"),
                                           (f"home-{language}", page, "/"),
                                           (f"org-chart-{language}", page, f"/orgs/{org.pk}/")))
            assert SCRIPT[language].search(page.inner_text("main"))
        finally:
            browser.close()
    assert all((Path(shots) / f"{name}-{language}-{width}.png").exists()
               for name in ("login", "home", "org-chart") for width in (1280, 390))
