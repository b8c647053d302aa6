"""The chat face's server-rendered pages in 简体中文 and 한국어 (issue 19):
each page renders in the profile's language with no English left in what a
person reads (tests/i18n_text.py; the allow-list is tests/i18n_terms.py),
the sidebar too; times are in the user's zone and the language's date
format; flash messages, form labels and errors are in the reader's
language; and the same pages still render in English.

What the scripts draw afterwards (the timeline, the member list) and the
system messages are not part of these pages' HTML; their strings are in
the djangojs catalog and the services."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import profile_update
from chatroom import services
from chatroom.models import JoinRequest, RoomMember
from chatroom.services import scheduled_messages
from tests.i18n_text import english_left, visible_text

pytestmark = pytest.mark.django_db

HANZI = re.compile(r"[\u4e00-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SCRIPT = {"zh-hans": HANZI, "ko": HANGUL}
# What the fixture below creates: usernames and room names.
NAMES = {"alice", "bob", "carol", "dave", "lobby", "gated", "vault", "attic"}


@pytest.fixture
def chat(make_user, make_room, member_of):
    """alice owns #lobby (a thread with a reaction, a topic; bob muted),
    #gated (join approval, carol waiting), #vault (private, carol in it) and
    #attic (archived); she has a DM with bob, a group DM with bob and carol,
    scheduled messages (in a room, a thread and the DM) and a followed
    thread. dave is in none of them."""
    alice = make_user("alice")
    profile_update(actor=alice, user=alice, timezone="Asia/Seoul")
    lobby = make_room(owner=alice, name="lobby", description="weekly sync notes")
    bob = member_of(lobby, username="bob")
    carol = make_user("carol")
    dave = make_user("dave")
    root = services.message_post(actor=alice, room=lobby, content="hello team, see the plan")
    services.message_post(actor=bob, room=lobby, content="looks good", thread_id=root.id)
    services.reaction_add(actor=bob, message_id=root.id, emoji="👍")
    gated = make_room(owner=alice, name="gated", require_approval=True)
    services.room_join(user=carol, room=gated)
    vault = make_room(owner=alice, name="vault", is_private=True, password="right horse battery")
    invite = services.invite_create(actor=alice, room=vault)
    RoomMember.objects.create(room=vault, user=carol, role="member")
    attic = make_room(owner=alice, name="attic")
    services.room_update(actor=alice, room=attic, archived=True)
    dm, _ = services.dm_open(actor=alice, user_ids=[bob.id])
    group, _ = services.dm_open(actor=alice, user_ids=[bob.id, carol.id])
    services.member_update(actor=alice, room=lobby, user=bob, is_muted=True)
    item = scheduled_messages.scheduled_create(actor=alice, room_id=lobby.id, content="ping later",
                                               send_at=timezone.now() + timedelta(days=2))
    later = timezone.now() + timedelta(days=3)
    scheduled_messages.scheduled_create(actor=alice, room_id=lobby.id, content="in the thread", send_at=later,
                                        thread_id=root.id)
    scheduled_messages.scheduled_create(actor=alice, room_id=dm.id, content="just you", send_at=later)
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "lobby": lobby, "gated": gated,
            "vault": vault, "attic": attic, "invite": invite, "dm": dm, "group": group, "root": root,
            "scheduled": item}


# page: (who looks, url)
PAGES = {
    "room list": ("alice", "/chat/"),
    "room": ("alice", "/chat/rooms/{lobby}/"),
    "room with a thread open": ("alice", "/chat/rooms/{lobby}/?thread={root}"),
    "dm": ("alice", "/chat/rooms/{dm}/"),
    "group dm": ("alice", "/chat/rooms/{group}/"),
    "group dm members": ("alice", "/chat/rooms/{group}/members/"),
    "archived room": ("alice", "/chat/rooms/{attic}/"),
    "archived room settings": ("alice", "/chat/rooms/{attic}/settings/"),
    "private room settings": ("alice", "/chat/rooms/{vault}/settings/"),
    "room settings": ("alice", "/chat/rooms/{lobby}/settings/"),
    "members": ("alice", "/chat/rooms/{lobby}/members/"),
    "members as a member": ("bob", "/chat/rooms/{lobby}/members/"),
    "search results": ("alice", "/chat/search/?q=hello"),
    "search with nothing found": ("alice", "/chat/search/?q=zzzzqqq"),
    "scheduled messages": ("alice", "/chat/scheduled/"),
    "scheduled, another tab": ("alice", "/chat/scheduled/?status=sent"),
    "threads": ("alice", "/chat/threads/"),
    "threads, none": ("dave", "/chat/threads/"),
    "join page": ("dave", "/chat/rooms/{gated}/"),
    "join page, private": ("dave", "/chat/rooms/{vault}/"),
    "join page, archived": ("dave", "/chat/rooms/{attic}/"),
    "join page, waiting": ("carol", "/chat/rooms/{gated}/"),
    "invite": ("dave", "/chat/invite/{invite}/"),
    "join requests": ("alice", "/chat/rooms/{gated}/requests/"),
    "person": ("alice", "/chat/people/{bob}/"),
    "person, yourself": ("alice", "/chat/people/{alice}/"),
    "empty room list": ("dave", "/chat/"),
}


def _url(chat, url):
    return url.format(lobby=chat["lobby"].id, root=chat["root"].id, dm=chat["dm"].id, group=chat["group"].id,
                      gated=chat["gated"].id, vault=chat["vault"].id, attic=chat["attic"].id,
                      invite=chat["invite"].code, bob=chat["bob"].id, alice=chat["alice"].id)


def _get(client, chat, who, url, language):
    user = chat[who]
    profile_update(actor=user, user=user, language=language)
    client.force_login(user)
    response = client.get(_url(chat, url), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, (url, response.status_code)
    return response


def _sidebar(html: str) -> str:
    start = html.index('<nav class="chat-sidebar"')
    return html[start:html.index("</nav>", start) + len("</nav>")]


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
@pytest.mark.parametrize("page", list(PAGES))
def test_each_chat_page_has_no_english_left(client, chat, language, page):
    who, url = PAGES[page]
    response = _get(client, chat, who, url, language)
    assert response["Content-Language"] == language
    html = response.content.decode()
    assert english_left(html, names=NAMES) == []
    assert SCRIPT[language].search(" ".join(visible_text(html)))
    # The sidebar beside <main> too, and the page's <title>.
    assert english_left(_sidebar(html), names=NAMES, scope=None) == []
    title = re.search(r"<title>(.*?)</title>", html, re.DOTALL)[1]
    assert english_left(f"<title>{title}</title>", names=NAMES) == [], title


@pytest.mark.parametrize("page", list(PAGES))
def test_each_chat_page_still_reads_in_english(client, chat, page):
    who, url = PAGES[page]
    response = _get(client, chat, who, url, "en")
    html = response.content.decode()
    assert response["Content-Language"] == "en"
    # (the language switcher names the languages in their own words)
    rest = html.replace("简体中文", "").replace("한국어", "")
    assert not HANZI.search(rest) and not HANGUL.search(rest)
    # The check itself sees English when it is there.
    assert english_left(html, names=NAMES) != []


def test_the_check_catches_english_in_a_chat_page(client, chat):
    """A string left unmarked would be caught: the room list in Korean, with
    an English word put back into it."""
    html = _get(client, chat, "alice", "/chat/", "ko").content.decode()
    broken = html.replace("내 채널", "My rooms", 1)
    assert broken != html and any("'rooms'" in found for found in english_left(broken, names=NAMES))


def test_the_room_page_in_chinese_says_the_expected_words(client, chat):
    html = _get(client, chat, "alice", "/chat/rooms/{lobby}/", "zh-hans").content.decode()
    assert 'data-testid="member-count">2 名成员<' in html
    assert 'placeholder="在 #lobby 中发消息"' in html
    assert ">发送</button>" in html and "稍后发送" in html
    assert "/jsi18n/" in html  # the scripts' catalog, for what they draw


def test_the_room_page_in_korean_says_the_expected_words(client, chat):
    html = _get(client, chat, "alice", "/chat/rooms/{lobby}/", "ko").content.decode()
    assert 'data-testid="member-count">멤버 2명<' in html
    assert 'placeholder="#lobby에 메시지 보내기"' in html and "스레드에 답글 달기" in html


ZH_DAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]  # Django's abbreviated weekdays
KO_DAYS = ["월", "화", "수", "목", "금", "토", "일"]


@pytest.mark.parametrize("language", ["zh-hans", "ko"])
def test_scheduled_times_are_in_the_users_zone_and_the_languages_format(client, chat, language):
    html = _get(client, chat, "alice", "/chat/scheduled/", language).content.decode()
    local = timezone.localtime(chat["scheduled"].send_at, timezone.get_fixed_timezone(9 * 60))  # Seoul, no DST
    if language == "zh-hans":
        wanted = f"{local.year}年{local.month}月{local.day}日 {ZH_DAYS[local.weekday()]} {local:%H:%M}"
    else:
        wanted = f"{local.year}년 {local.month}월 {local.day}일 ({KO_DAYS[local.weekday()]}) {local:%H:%M}"
    when = re.search(r'data-testid="scheduled-when">([^<]*)<', html)[1]
    assert when == wanted
    where = {"zh-hans": ("#lobby · 在话题中", "与 bob 的私信"), "ko": ("#lobby · 스레드에서", "bob 님과의 다이렉트 메시지")}
    assert all(f">{w}</a>" in html for w in where[language]), where[language]
    # Not UTC's wall time (9 hours off).
    utc = timezone.localtime(chat["scheduled"].send_at, timezone.get_fixed_timezone(0))
    assert f"{utc:%H:%M}" not in when


def test_the_join_requests_page_shows_the_time_in_the_users_zone(client, chat):
    request = JoinRequest.objects.get(room=chat["gated"], user=chat["carol"])
    html = _get(client, chat, "alice", "/chat/rooms/{gated}/requests/", "ko").content.decode()
    local = timezone.localtime(request.created_at, timezone.get_fixed_timezone(9 * 60))
    assert f"{local.year}년 {local.month}월 {local.day}일 ({KO_DAYS[local.weekday()]}) {local:%H:%M}" in html


def test_a_search_hit_shows_its_time_in_the_language_before_the_script_runs(client, chat):
    html = _get(client, chat, "alice", "/chat/search/?q=hello", "zh-hans").content.decode()
    shown = re.search(r"<time datetime=\"[^\"]+\" data-relative>([^<]*)</time>", html)[1]
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 周. \d\d:\d\d", shown), shown


def test_the_dnd_warning_is_in_korean_with_the_end_in_the_users_zone(client, chat):
    from accounts import dnd

    bob = chat["bob"]
    until = timezone.now() + timedelta(hours=2)
    dnd.dnd_set(actor=bob, until=until)
    html = _get(client, chat, "alice", "/chat/rooms/{dm}/", "ko").content.decode()
    warning = html.split('data-testid="dnd-warning"')[1].split("</p>")[0]
    assert "<strong>bob</strong> 님은" in warning and "방해 금지 모드입니다" in warning
    local = timezone.localtime(until, timezone.get_fixed_timezone(9 * 60))
    assert f">({KO_DAYS[local.weekday()]}) {local:%H:%M}</time>" in warning


def test_flash_messages_and_form_errors_are_in_the_readers_language(client, chat):
    alice, lobby = chat["alice"], chat["lobby"]
    profile_update(actor=alice, user=alice, language="ko")
    client.force_login(alice)
    saved = client.post(f"/chat/rooms/{lobby.id}/settings/", {"op": "general", "name": "lobby",
                                                              "description": "x"}, follow=True)
    assert "설정을 저장했습니다." in saved.content.decode()
    wrong = client.post(f"/chat/rooms/{lobby.id}/settings/", {"op": "delete", "confirm": "nope"})
    assert wrong.status_code == 400
    error = re.search(r'data-testid="field-error-confirm">([^<]*)<', wrong.content.decode())[1]
    assert error == "채널을 삭제하려면 lobby을(를) 정확히 입력하세요."
    unmuted = client.post(f"/chat/rooms/{lobby.id}/members/change",
                          {"op": "unmute", "user_id": str(chat["bob"].id)}, follow=True).content.decode()
    assert "bob 님이 다시 글을 올릴 수 있습니다." in unmuted
    profile_update(actor=alice, user=alice, language="zh-hans")
    level = client.post(f"/chat/rooms/{lobby.id}/notify", {"notify_level": "mentions"}, follow=True)
    assert "这里只有提及你时才会通知你。" in level.content.decode()
    refused = client.post("/chat/dm/", {"usernames": ""}, follow=True).content.decode()
    assert "请至少选择一个人。" in refused
    required = client.post("/chat/", {"name": ""}).content.decode()
    assert "该字段是必填项。" in required  # Django's own form errors follow the language too
    assert "3 到 50 个字母、数字、_ 或 -。" in required  # the field's help



@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_room_and_the_room_list_in_chinese_and_korean_in_a_browser(chat, tmp_path):
    """The room page (its socket live) and the room list in a real browser,
    at 1280 and 390 px: nothing scrolls sideways (screenshot_pages checks),
    and the header, composer and sidebar read in the language. With
    SCREENSHOT_DIR set they are saved as chat-room-<language>-*.png and
    chat-list-<language>-*.png."""
    import os

    from tests.browser import (
        require_chromium,
        screenshot_pages,
        session_for,
        signed_in_pages,
    )
    from tests.processes import asgi_servers

    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, lobby = chat["alice"], chat["lobby"]
    shots = os.environ.get("SCREENSHOT_DIR") or str(tmp_path)
    words = {"zh-hans": ("发送", "频道", "频道"), "ko": ("보내기", "채널", "채널")}
    with asgi_servers(1, tmp_path) as (base,):
        for language, (send, channels, heading) in words.items():
            # The ORM before Playwright's loop starts (it refuses to run inside it).
            profile_update(actor=alice, user=alice, language=language)
            session = session_for(alice)
            with sync_playwright() as p, signed_in_pages(p, base, {"alice": session}) as pages:
                page = pages["alice"]
                page.goto(f"{base}/chat/rooms/{lobby.id}/")
                expect(page.locator("#send")).to_have_text(send)
                expect(page.locator("#sidebar-channels")).to_have_text(channels)
                expect(page.locator("[data-testid=timeline] li[data-id]").first).to_be_attached()
                screenshot_pages(base, shots, [(f"chat-room-{language}", page, f"/chat/rooms/{lobby.id}/"),
                                               (f"chat-list-{language}", page, "/chat/")])
                expect(page.locator("main h1")).to_have_text(heading)
