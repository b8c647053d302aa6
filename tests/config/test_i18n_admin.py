"""The Django admin in 简体中文 and 한국어 (issue 19): for a staff superuser
whose profile language is zh-hans or ko, the admin index, every registered
model's changelist and a change form of each model that has a row show no
English in the page content (tests/i18n_text.py, scoped to ``<main>``):
the app and model names, the column and filter titles, field labels and
help texts, the choice labels and the action dropdown. A custom action's
message and the audit chain's verify page answer in the reader's words."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.services import profile_update
from tests.i18n_text import english_left, visible_text

pytestmark = pytest.mark.django_db

HANZI = re.compile(r"[\u4e00-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = {"zh-hans": HANZI, "ko": HANGUL}
# What the fixture below creates (usernames, the org's and the room's
# names) and the e-mail addresses' domain: names, not words to translate.
NAMES = {"root", "mia", "acme", "lobby", "example", "com"}
# The keys as keyboards print them, in Django's own help text of a
# multiple choice ("按住 Control 键或 Mac 上的 Command 键").
KEY_NAMES = {"control", "command", "mac"}
# Identifiers shown as they are: UUIDs and hex digests (ids, hashes, request ids).
IDENTIFIER = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})"
                        r"(?![0-9a-f])")
# Django's own boolean icons carry alt="True"/"False"/"None", which Django
# does not translate (django.contrib.admin.templatetags.admin_list._boolean_icon).
BOOLEAN_ALT = re.compile(r'(<img src="[^"]*/admin/img/icon-(?:yes|no|unknown)[^"]*\.svg") alt="(?:True|False|None)"')
# Django stores the permissions' names in English in the database ("Can add user"):
# the user form's permission picker lists them as they are.
PERMISSION_PICKER = re.compile(r'<select name="user_permissions".*?</select>', re.S)


def readable(html: str) -> str:
    return PERMISSION_PICKER.sub("", BOOLEAN_ALT.sub(r"\1", IDENTIFIER.sub("0", html)))


def english(html: str) -> list[str]:
    return english_left(readable(html), names=NAMES | KEY_NAMES, scope="main")


@pytest.fixture
def staff(client, make_user):
    """A superuser, and a row in most tables: an org with a department and a
    member, a channel with a message, a notification, an audit trail."""
    from accounts.notifications import notify
    from chatroom.services import message_post, room_create
    from orgs.models import Role
    from orgs.services import member_add, org_create

    root = make_user("root", is_staff=True, is_superuser=True)
    mia = make_user("mia")
    org = org_create(owner=root, actor=root, name="acme", display_name="acme")
    member_add(actor=root, org=org, user=mia, role=Role.objects.system("member"))
    room = room_create(owner=root, name="lobby")
    message_post(actor=root, room=room, content="你好 안녕")
    notify(user=mia, type="system_alert", title="你好 안녕")
    client.force_login(root)
    return client, root


def _admin_urls():
    for model, model_admin in admin.site._registry.items():
        yield model, model_admin, reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_the_admin_index_has_no_english_left(staff, language):
    client, root = staff
    profile_update(actor=root, user=root, language=language)
    response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Language"] == language
    html = response.content.decode()
    assert english(html) == []
    text = " ".join(visible_text(html))
    assert SCRIPT[language].search(text)
    # The app and model names themselves (not only Django's own words).
    words = {"zh-hans": ("文件传输", "频道", "审计日志", "运维"), "ko": ("파일 전송", "채널", "감사 로그", "운영")}
    for word in words[language]:
        assert word in text, word


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_every_changelist_and_change_form_has_no_english_left(staff, language):
    client, root = staff
    profile_update(actor=root, user=root, language=language)
    checked, forms = 0, 0
    for model, model_admin, url in _admin_urls():
        listing = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert listing.status_code == 200, url
        html = listing.content.decode()
        assert english(html) == [], url
        assert SCRIPT[language].search(" ".join(visible_text(html))), url
        checked += 1
        obj = model_admin.get_queryset(listing.wsgi_request).first()
        if obj is None:
            continue
        change_url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        form = client.get(change_url, HTTP_ACCEPT_LANGUAGE="en")
        assert form.status_code == 200, change_url
        assert english(form.content.decode()) == [], change_url
        forms += 1
    # The registry is all of it: every app's models, and rows for many of them.
    assert checked >= 26 and forms >= 8, (checked, forms)


def test_the_check_finds_english_left_in_the_admin(staff):
    """The test above can fail: an English label, or a model without its
    translated names, is reported."""
    client, root = staff
    profile_update(actor=root, user=root, language="ko")
    html = client.get("/admin/accounts/user/").content.decode()
    assert english(html.replace("사용자 이름", "username")) != []
    assert english(html.replace("</main>", "<p>Ban the selected users</p></main>")) != []


@pytest.mark.parametrize("language, words", [
    ("zh-hans", ("用户名", "状态", "封禁所选用户（结束其会话）", "按状态")),
    ("ko", ("사용자 이름", "상태", "선택한 사용자 차단 (세션 종료)", "상태 기준")),
])
def test_the_user_list_shows_translated_columns_filters_and_actions(staff, language, words):
    client, root = staff
    profile_update(actor=root, user=root, language=language)
    text = " ".join(visible_text(client.get("/admin/accounts/user/").content.decode()))
    for word in words:
        assert word in text, (word, text[:2000])


def test_a_custom_actions_message_is_in_korean(staff):
    client, root = staff
    from accounts.models import User

    profile_update(actor=root, user=root, language="ko")
    mia = User.objects.get(username="mia")
    done = client.post("/admin/accounts/user/", {"action": "ban", "_selected_action": [str(mia.pk)]}, follow=True)
    html = done.content.decode()
    assert done.status_code == 200 and "차단됨: 1개." in html, html[-3000:]
    assert User.objects.get(pk=mia.pk).status == "banned"
    # ... and the same action's message in Chinese, for another language's reader.
    profile_update(actor=root, user=root, language="zh-hans")
    unbanned = client.post("/admin/accounts/user/", {"action": "unban", "_selected_action": [str(mia.pk)]},
                           follow=True).content.decode()
    assert "已解封：1 项。" in unbanned and User.objects.get(pk=mia.pk).status == "active"


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_the_audit_pages_have_no_english_left(staff, language):
    client, root = staff
    profile_update(actor=root, user=root, language=language)
    for url in ("/admin/audit/auditlog/verify/", "/admin/audit/auditlog/partitions/"):
        html = client.get(url).content.decode()
        assert english(html) == [], url
        assert SCRIPT[language].search(" ".join(visible_text(html))), url
    verified = client.post("/admin/audit/auditlog/verify/", {"since": "", "until": ""}, follow=True).content.decode()
    assert english(verified) == []
    intact = {"zh-hans": "审计链完好：已检查", "ko": "감사 체인 정상: 항목"}[language]
    assert intact in verified
    bad = client.post("/admin/audit/auditlog/verify/", {"since": "yesterday"}).content.decode()
    assert {"zh-hans": "日期格式须为", "ko": "날짜는 연-월-일"}[language] in bad
