"""The staff dashboard in 简体中文 and 한국어 (issue 19): the page, its health
tiles, the charts' titles and legends (inside the SVG), the events table
and the profile's activity table render in the profile's language with no
English left (tests/i18n_text.py), times in the reader's time zone, and
figures in the language's words."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from accounts.services import profile_update
from ops import health, replica_status, series
from tests.i18n_text import english_left, visible_text
from tests.ops.conftest import DAY

pytestmark = pytest.mark.django_db

HANZI = re.compile(r"[\u4e00-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = {"zh-hans": HANZI, "ko": HANGUL}


@pytest.fixture
def staff(client, make_user):
    from ops.models import DailyStat, UserStatistic
    from ops.services.events import event_record

    root = make_user("root", is_staff=True, is_superuser=True)
    DailyStat.objects.create(stat_date=DAY, total_users=12, active_users=3, new_messages=40)
    UserStatistic.objects.create(user=root, date=DAY, messages_sent=7, online_seconds=5400, bytes_transferred=2048)
    event_record(event_type="worker", event_name="lost", data={"error": "<script>alert(1)</script>", "ok": False})
    client.force_login(root)
    return client, root


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("range_key", ["24h", "90d"])
def test_the_dashboard_has_no_english_left(staff, language, range_key):
    client, root = staff
    profile_update(actor=root, user=root, language=language)
    response = client.get(f"/staff/dashboard/?range={range_key}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == language
    html = response.content.decode()
    assert english_left(html, names={"root"}) == []
    text = " ".join(visible_text(html))
    assert SCRIPT[language].search(text)
    # The charts' own words (titles and legends are SVG text), the tiles and the tables.
    words = {"zh-hans": ("每日用户数和消息数", "用户总数", "数据库", "最近的系统事件", "下载 CSV"),
             "ko": ("일별 사용자 수와 메시지 수", "전체 사용자", "데이터베이스", "최근 시스템 이벤트", "CSV 다운로드")}
    for word in words[language]:
        assert word in text, word
    # The range switcher words its keys; the links keep them.
    assert 'data-testid="range-7d"' in html and {"zh-hans": ">7 天<", "ko": ">7일<"}[language] in html


def test_the_check_finds_english_on_the_dashboard(staff):
    """The test above can fail: an English title or tile is reported."""
    client, root = staff
    profile_update(actor=root, user=root, language="ko")
    html = client.get("/staff/dashboard/").content.decode()
    assert english_left(html.replace("최근 시스템 이벤트", "Recent system events"), names={"root"}) != []
    assert english_left(html.replace("</main>", '<p class="muted">no tick seen</p></main>'), names={"root"}) != []


def test_the_events_are_in_the_readers_time_zone(staff):
    from ops.models import SystemEvent

    client, root = staff
    profile_update(actor=root, user=root, language="ko", timezone="Asia/Seoul")
    event = SystemEvent.objects.get(event_name="lost")
    html = client.get("/staff/dashboard/").content.decode()
    assert '시각 (<span translate="no">Asia/Seoul</span>)' in html
    assert english_left(html, names={"root"}) == []  # the zone's name is a code
    from zoneinfo import ZoneInfo

    seoul = event.created_at.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M:%S")
    assert f'<td class="when">{seoul}</td>' in html
    # The event's machine data is shown as it is, escaped, and marked as such.
    assert 'class="details" translate="no"' in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_the_profiles_activity_table_has_no_english_left(staff, language):
    client, root = staff
    profile_update(actor=root, user=root, language=language)
    from django.test import RequestFactory

    from ops.views import profile_section

    request = RequestFactory().get("/accounts/profile/")
    request.user = root
    with translation.override(language):
        html = profile_section(request)
    assert english_left(html, scope=None) == []
    online = {"zh-hans": "1 小时 30 分钟", "ko": "1시간 30분"}[language]
    assert f"<td>{online}</td>" in html and "<td>2 KiB</td>" in html


def test_health_replica_and_series_words_follow_the_language_and_english_stays():
    with translation.override("en"):
        assert replica_status.seconds_text(125) == "2 min 5 s" and replica_status.lag_text("down", None) == "down"
        assert str(series.RANGE_TEXTS["7d"]) == "7d"
    with translation.override("ko"):
        assert replica_status.seconds_text(0.34) == "0.3초" and replica_status.seconds_text(7300) == "2시간 1분"
        assert replica_status.lag_text("not_standby", None) == "대기 서버가 아님"
        assert health.Part("beat", None, "").label == "스케줄러"
    with translation.override("zh-hans"):
        assert replica_status.seconds_text(125) == "2 分钟 5 秒"
        assert health.Part("database", True, "").label == "数据库"
        assert health.Part("something else", True, "").label == "something else"  # an unknown part keeps its key


@pytest.mark.e2e
def test_the_admin_index_and_dashboard_in_chinese_fit_both_widths(live_server, make_user):
    """In a browser, at 1280 and 390 px: no sideways scroll (CJK labels are
    wider); screenshots when SCREENSHOT_DIR is set."""
    import os
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.browser import require_chromium, screenshot_pages, session_for, signed_in_pages
    from tests.e2e.test_ops_dashboard_browser import seed_data

    require_chromium()
    root = make_user("root", is_staff=True, is_superuser=True)
    profile_update(actor=root, user=root, language="zh-hans", timezone="Asia/Shanghai")
    seed_data(root)
    shots = os.environ.get("SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="teamhub-shots-")
    os.makedirs(shots, exist_ok=True)
    sessions = {"root": session_for(root)}
    with sync_playwright() as p, signed_in_pages(p, live_server.url, sessions) as pages:
        page = pages["root"]
        screenshot_pages(live_server.url, shots, [
            ("i18n-zh-admin-index", page, "/admin/"),
            ("i18n-zh-ops-dashboard", page, "/staff/dashboard/"),
            ("i18n-zh-admin-users", page, "/admin/accounts/user/"),
        ])
        page.goto(live_server.url + "/staff/dashboard/")
        assert "每日用户数和消息数" in page.locator("[data-testid=chart-activity]").inner_text()
