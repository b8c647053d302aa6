"""The accounts and registration pages and the home dashboard in 简体中文 and
한국어 (issue 19): each page renders in the reader's language with no English
left in what a person reads (tests/i18n_text.py; the allow-list is
tests/i18n_terms.py), form errors and flash messages are in that language,
times are in the user's time zone and the language's date format, the
accounts API's errors come back in the reader's language with English codes,
and a password-reset mail is written in the account's language."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import dnd
from accounts.services import profile_update
from tests.i18n_text import english_left, visible_text

pytestmark = pytest.mark.django_db

HANZI = re.compile(r"[\u4e00-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = {"zh-hans": HANZI, "ko": HANGUL}
PASSWORD = "correct horse battery staple"
NAMES = {"minji", "example", "com", "other"}  # what the tests below create (minji@example.com)
ACCEPT = {"zh-hans": "zh-CN,zh;q=0.9", "ko": "ko-KR,ko;q=0.9"}


def without_ops_section(html: str) -> str:
    """The profile page less the activity table that ops adds to it
    (templates/ops, translated with the ops pages)."""
    return re.sub(r'<section class="profile-stats".*?</section>', "", html, flags=re.S)


def assert_in_language(html: str, language: str, names=NAMES):
    assert english_left(html, names=names) == []
    assert SCRIPT[language].search(" ".join(visible_text(html)))


@pytest.fixture
def minji(make_user):
    user = make_user("minji", email="minji@example.com")
    profile_update(actor=user, user=user, timezone="Asia/Seoul")
    return user


ANONYMOUS = {
    "login": "/accounts/login/",
    "signup": "/accounts/signup/",
    "password reset": "/accounts/password/reset/",
    "reset link sent": "/accounts/password/reset/sent/",
    "reset done": "/accounts/password/reset/done/",
    "bad reset link": "/accounts/password/reset/MQ/bad-token/",
}


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("page", list(ANONYMOUS))
def test_each_anonymous_page_follows_accept_language_with_no_english_left(client, language, page):
    response = client.get(ANONYMOUS[page], HTTP_ACCEPT_LANGUAGE=ACCEPT[language], follow=True)
    assert response.status_code == 200 and response["Content-Language"] == language
    assert_in_language(response.content.decode(), language)


@pytest.mark.parametrize("page", list(ANONYMOUS))
def test_each_anonymous_page_is_still_english_in_english(client, page):
    response = client.get(ANONYMOUS[page], HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert response.status_code == 200 and response["Content-Language"] == "en"
    html = response.content.decode()
    assert english_left(html, names=NAMES)  # English words, not a translation
    assert not HANGUL.search(" ".join(visible_text(html))) and not HANZI.search(" ".join(visible_text(html)))


SIGNED_IN = {
    "profile": "/accounts/profile/",
    "notifications": "/notifications/",
    "unread notifications": "/notifications/?show=unread",
    "archived notifications": "/notifications/?show=archived",
    "devices": "/accounts/devices/",
    "password change": "/accounts/password/change/",
    "home": "/",
}


@pytest.fixture
def signed_in(client, minji):
    assert client.post("/accounts/login/", {"username": "minji", "password": PASSWORD}).status_code == 302
    return client


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("page", list(SIGNED_IN))
def test_each_signed_in_page_is_in_the_profile_language(signed_in, minji, language, page):
    profile_update(actor=minji, user=minji, language=language)
    response = signed_in.get(SIGNED_IN[page], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == language
    assert_in_language(without_ops_section(response.content.decode()), language)


@pytest.mark.parametrize("page", list(SIGNED_IN))
def test_each_signed_in_page_renders_in_english(signed_in, page):
    response = signed_in.get(SIGNED_IN[page], HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == "en"
    assert not HANGUL.search(" ".join(visible_text(without_ops_section(response.content.decode()))))


def test_the_devices_page_shows_times_in_the_users_zone_and_date_format(signed_in, minji):
    from accounts.models import DeviceSession

    row = DeviceSession.objects.get(user=minji, kind="web")
    profile_update(actor=minji, user=minji, language="ko")
    html = signed_in.get("/accounts/devices/").content.decode()
    local = row.created.astimezone(ZoneInfo("Asia/Seoul"))
    assert f"{local.year}년 {local.month}월 {local.day}일 {local:%H:%M}" in html
    assert "현재 기기" in html and "브라우저" in html


def test_do_not_disturb_is_described_in_the_language_with_the_users_zone(signed_in, minji):
    dnd.dnd_set(actor=minji, until=timezone.now() + timedelta(hours=2))
    profile_update(actor=minji, user=minji, language="ko")
    html = without_ops_section(signed_in.get("/accounts/profile/").content.decode())
    state = re.search(r'data-testid="dnd-state">(.*?)</p>', html, re.S)[1]
    assert "까지 켜져 있습니다" in state and "KST" in state, state
    assert_in_language(html, "ko")
    profile_update(actor=minji, user=minji, language="zh-hans")
    saved = signed_in.post("/accounts/profile/dnd/", {"pause": "off", "start": "22:00", "end": "08:00"}, follow=True)
    assert "通知设置已保存。" in saved.content.decode()
    refused = signed_in.post("/accounts/profile/dnd/", {"pause": "custom", "start": "22:00", "end": "08:00"},
                             follow=True)
    assert "免打扰设置未更改：请选择截止时间。" in refused.content.decode()


def test_home_shows_the_dashboard_in_the_language_with_local_times(signed_in, minji, make_user):
    from chatroom.services import message_post, room_create, room_join
    from jobs.models import Job, ScheduleRule

    other = make_user("other")
    room = room_create(owner=other, name="team")
    room_join(user=minji, room=room)
    message_post(actor=other, room=room, content="hello @minji")
    Job.objects.create(user=minji, type="copy", status="running", progress=40,
                       payload={"source": {"remote": "src", "path": "/a"}},
                       result={"bytes": 1024, "total_bytes": 4096})
    at = timezone.now().replace(microsecond=0) + timedelta(hours=3)
    ScheduleRule.objects.create(user=minji, name="nightly", rule_type="cron", cron_expression="0 * * * *",
                                job_template={"type": "copy", "source": {"remote": "a", "path": "/"}},
                                is_active=True, next_run_at=at)
    for language in ("ko", "zh-hans"):
        profile_update(actor=minji, user=minji, language=language)
        html = signed_in.get("/").content.decode()
        assert_in_language(html, language, names=NAMES | {"team", "nightly", "hello"})
    local = at.astimezone(ZoneInfo("Asia/Seoul"))
    assert f"{local.month}月{local.day}日" in html and f"{local:%H:%M} KST" in html  # zh-hans, the last one
    assert "刚刚" in html and "1 KiB / 4 KiB" in html and "/jsi18n/" in html
    profile_update(actor=minji, user=minji, language="ko")
    html = signed_in.get("/").content.decode()
    assert f"{local.month}월 {local.day}일" in html and "방금" in html and "후" in html


def test_a_signup_form_error_is_in_korean_for_accept_language_ko(client, make_user):
    make_user("taken", email="taken@example.com")
    korean = {"HTTP_ACCEPT_LANGUAGE": "ko"}
    weak = client.post("/accounts/signup/", {"username": "weakling", "email": "w@example.com", "password1": "123",
                                             "password2": "123"}, **korean)
    assert weak.status_code == 200 and weak["Content-Language"] == "ko"
    errors = " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', weak.content.decode(), re.S))
    assert HANGUL.search(errors) and "short" not in errors, errors
    duplicate = client.post("/accounts/signup/", {"username": "taken", "email": "new@example.com",
                                                  "password1": PASSWORD, "password2": PASSWORD}, **korean)
    assert "이 사용자 이름을 쓰는 계정이 이미 있습니다." in duplicate.content.decode()
    differ = client.post("/accounts/signup/", {"username": "fresh", "email": "fresh@example.com",
                                               "password1": PASSWORD, "password2": PASSWORD + "x"}, **korean)
    assert "두 비밀번호가 일치하지 않습니다." in differ.content.decode()
    # ... and the same form in English still says it in English.
    english = client.post("/accounts/signup/", {"username": "taken", "email": "new2@example.com",
                                                "password1": PASSWORD, "password2": PASSWORD},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert "An account with this username already exists." in english.content.decode()


def test_a_wrong_password_on_the_login_page_is_said_in_chinese(client, minji):
    response = client.post("/accounts/login/", {"username": "minji", "password": "wrong"},
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    assert "用户名或密码错误。" in response.content.decode()


def test_flash_messages_follow_the_profile_language(signed_in, minji):
    profile_update(actor=minji, user=minji, language="ko")
    saved = signed_in.post("/accounts/profile/", {"bio": "", "location": "", "website": "", "timezone": "Asia/Seoul",
                                                  "language": "ko", "theme": "dark"}, follow=True)
    assert "프로필을 저장했습니다." in saved.content.decode()
    read = signed_in.post("/notifications/read-all/", follow=True)
    assert "알림 0개를 읽음으로 표시했습니다." in read.content.decode()


def test_an_accounts_api_error_is_in_korean_for_a_korean_user_with_english_codes(minji):
    profile_update(actor=minji, user=minji, language="ko")
    api = APIClient()
    login = api.post("/api/v1/auth/login", {"login": "minji", "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    missing = api.delete("/api/v1/auth/sessions/00000000-0000-0000-0000-000000000000", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "해당 세션이 없습니다."}
    past = api.post("/api/v1/api-keys", {"name": "ci", "scopes": ["orgs:read"], "expires_at": "2000-01-01T00:00:00Z"},
                    format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert past.status_code == 400, past.content
    error = past.json()["error"]
    assert error == {"code": "validation_error", "message": "입력이 올바르지 않습니다.",
                     "fields": {"expires_at": ["미래 시각이어야 합니다."]}}


def test_the_apis_own_input_errors_are_in_korean_too(minji):
    """DRF's own messages (a missing field, a bad choice) have a Korean
    translation in our catalog: DRF ships ko_KR, which Django's "ko" never reads."""
    profile_update(actor=minji, user=minji, language="ko")
    api = APIClient()
    login = api.post("/api/v1/auth/login", {"login": "minji", "password": PASSWORD}, format="json")
    api.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    bad = api.post("/api/v1/api-keys", {"scopes": ["nope"]}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400, bad.content
    fields = bad.json()["error"]["fields"]
    assert fields["name"] == ["필수 항목입니다."]
    assert fields["scopes.0"] == ['"nope"은(는) 올바른 선택지가 아닙니다.'], fields
    anonymous = APIClient().get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="ko")
    assert anonymous.json()["error"] == {"code": "not_authenticated", "message": "인증 정보가 제공되지 않았습니다."}


def test_an_anonymous_api_error_is_in_chinese_for_accept_language_zh(minji):
    api = APIClient()
    failed = api.post("/api/v1/auth/login", {"login": "minji", "password": "wrong"}, format="json",
                      HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert failed.status_code == 401
    assert failed.json()["error"] == {"code": "invalid_credentials", "message": "用户名或密码错误。"}
    taken = api.post("/api/v1/auth/register", {"username": "minji", "email": "x@example.com", "password": PASSWORD},
                     format="json", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert taken.status_code == 400, taken.content
    assert taken.json()["error"]["code"] == "validation_error"
    assert taken.json()["error"]["fields"]["username"] == ["已有账户使用此用户名。"]
    bad_token = APIClient(HTTP_AUTHORIZATION="Token nope").get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert bad_token.status_code == 401 and bad_token.json()["error"]["code"] == "not_authenticated"
    assert HANZI.search(bad_token.json()["error"]["message"]), bad_token.json()


@pytest.mark.parametrize(("language", "subject", "line"), [
    ("ko", "Teamhub 비밀번호 재설정", "본인이 요청하지 않았다면 이 이메일을 무시하세요."),
    ("zh-hans", "重置你的 Teamhub 密码", "如果这不是你本人的操作，请忽略此邮件"),
])
def test_the_password_reset_mail_is_in_the_accounts_language(minji, language, subject, line):
    profile_update(actor=minji, user=minji, language=language)
    # Asked for from an English browser: the mail still follows the account.
    response = Client().post("/accounts/password/reset/", {"email": "minji@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == subject
    assert line in message.body and "minji" in message.body
    assert re.search(r"https?://[^/\s]+/accounts/password/reset/[^\s]+/", message.body)


def test_the_password_reset_mail_stays_english_for_an_english_account(minji):
    response = Client().post("/accounts/password/reset/", {"email": "minji@example.com"}, HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 302
    assert mail.outbox[0].subject == "Reset your Teamhub password"
    assert "If it was not you, ignore this email" in mail.outbox[0].body
