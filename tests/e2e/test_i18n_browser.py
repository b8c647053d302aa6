"""The pages' scripts in 简体中文 and 한국어 in a real browser (issue 19),
and Chinese/Korean input (IME).

A signed-in user switches the language with the nav's switcher (its
<select>, which posts /accounts/language/ and changes the profile), to
简体中文 and then 한국어; each time the nav, a chat room's script-drawn
text (the live status, the message actions, the relative time, the emoji
picker, a thread's reply count, the quick switcher) and the jobs page are in
that language. The room's template text belongs to the room pages' own
translation (chatroom templates), so only what base.html and the scripts
draw is checked here.

IME: a composition is opened with compositionstart and its Enter arrives
as a keydown with isComposing (and keyCode 229, as Chromium sends it): the
composer sends nothing, the thread composer and an edit box neither, the
quick switcher opens nothing and a search form does not submit (a real,
trusted Enter while the composition is open); once the composition has
ended, the same Enter does its work. With SCREENSHOT_DIR set, the room is
saved at 1280 and 390 px in both languages (room-zh-hans-*.png,
room-ko-*.png); it never scrolls sideways."""

import os
import re
from pathlib import Path

import pytest

from chatroom.models import Message
from chatroom.services import message_post, room_create, room_join
from tests.browser import require_chromium, session_for, signed_in_pages
from tests.i18n_text import english_left
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WORDS = {
    "zh-hans": {"chat": "聊天", "jobs": "传输任务", "notifications": "通知", "live": "实时", "reply": "回复",
                "react": "回应", "time": r"^(刚刚|\d+分钟前)$", "picker": "选择表情", "search": "搜索表情",
                "emoji": "插入表情", "replies": "2 条回复", "switcher": "跳转到会话", "switcher_kind": "频道",
                "han": r"[\u4e00-\u9fff]"},
    "ko": {"chat": "채팅", "jobs": "전송 작업", "notifications": "알림", "live": "실시간", "reply": "답글",
           "react": "반응", "time": r"^(방금|\d+분 전)$", "picker": "이모지 선택", "search": "이모지 검색",
           "emoji": "이모지 넣기", "replies": "답글 2개", "switcher": "대화로 이동", "switcher_kind": "채널",
           "han": r"[\uac00-\ud7a3]"},
}


def _orm(fn):
    """``fn()`` on a thread of its own: Django refuses the ORM inside Playwright's event loop."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def run():
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _shots(page, name: str) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 860})
        page.wait_for_timeout(150)
        wide = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"{name} scrolls sideways by {wide} px at {width} px"
        if os.environ.get("SCREENSHOT_DIR"):
            page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})


def _switch_with_the_nav(page, language: str) -> None:
    """Choose the language in the nav's <select>, as a person does (its change submits the form)."""
    with page.expect_navigation():
        page.select_option("#language-select-nav", language)
    assert page.evaluate("document.documentElement.lang") == language


@pytest.fixture
def world(make_user):
    lin, bob = make_user("lin-i18n"), make_user("bob-i18n")
    room = room_create(owner=lin, name="i18n-room")
    room_join(user=bob, room=room)
    root = message_post(actor=bob, room=room, content="早上好，今天的计划 / 오늘 계획")
    for text in ("第一条", "두 번째"):
        message_post(actor=lin, room=room, content=text, thread_id=root.id)
    return lin, bob, room


def test_the_nav_the_rooms_scripts_and_the_jobs_page_follow_the_switched_language(world, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    lin, bob, room = world
    sessions = {"lin": session_for(lin)}
    expect.set_options(timeout=15_000)
    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            signed_in_pages(p, base, sessions, profile_prefix="teamhub-i18n-chromium-") as pages:
        page = pages["lin"]
        page.set_viewport_size({"width": 1280, "height": 860})
        page.goto(f"{base}/chat/rooms/{room.id}/")
        expect(page.locator("[data-testid=live-status]")).to_have_text("live")  # English first
        for language, words in WORDS.items():
            _switch_with_the_nav(page, language)
            assert _orm(lambda: type(lin).objects.get(pk=lin.pk).profile.language) == language
            # The nav (base.html).
            expect(page.locator("[data-testid=chat-link]")).to_have_text(words["chat"])
            expect(page.locator("[data-testid=jobs-link]")).to_have_text(words["jobs"])
            expect(page.locator("[data-testid=notifications-link] .nav-label")).to_have_text(words["notifications"])
            nav = page.locator("nav.site-nav")
            assert re.search(words["han"], nav.get_attribute("aria-label"))
            # The room's scripts.
            expect(page.locator("#chat-room")).to_have_attribute("data-ready", "true")
            expect(page.locator("[data-testid=live-status]")).to_have_text(words["live"])
            message = page.locator("[data-testid=message]", has_text="早上好")
            expect(message.locator("[data-action=reply]")).to_have_text(words["reply"])
            expect(message.locator("[data-action=react]")).to_have_text(words["react"])
            expect(message.locator("[data-testid=thread-summary]")).to_contain_text(words["replies"])
            expect(message.locator("time.msg-time")).to_have_text(re.compile(words["time"]))
            assert re.search(words["han"], message.locator("time.msg-time").get_attribute("title"))
            emoji = page.locator("#composer [data-testid=composer-emoji]")
            expect(emoji).to_have_attribute("aria-label", words["emoji"])
            emoji.click()
            picker = page.locator("[data-testid=emoji-picker]")
            expect(picker).to_have_attribute("aria-label", words["picker"])
            expect(picker.locator("[data-testid=emoji-search]")).to_have_attribute("placeholder", words["search"])
            page.keyboard.press("Escape")
            expect(picker).to_be_hidden()
            # The quick switcher (base.html's dialog, switcher.js's list).
            page.keyboard.press("Control+k")
            expect(page.locator("#switcher-title")).to_have_text(words["switcher"])
            expect(page.locator("[data-testid=switcher-option]").first).to_contain_text(words["switcher_kind"])
            page.keyboard.press("Escape")
            _shots(page, f"room-{language}")
            # The jobs page: its own translation (the jobs face) and the same nav.
            page.goto(f"{base}/jobs/")
            expect(page.locator("[data-testid=jobs-link]")).to_have_text(words["jobs"])
            assert english_left(page.content(), names=[lin.username]) == []
            assert page.evaluate("typeof gettext === 'function' && gettext('just now')") != "just now"
            page.goto(f"{base}/chat/rooms/{room.id}/")


def _count(room):
    return _orm(lambda: Message.objects.filter(room=room).count())


def test_an_enter_that_ends_an_ime_composition_sends_and_submits_nothing(world, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    lin, bob, room = world
    sessions = {"lin": session_for(lin)}
    expect.set_options(timeout=15_000)
    composing_enter = """(selector) => {
        const box = document.querySelector(selector);
        box.focus();
        box.dispatchEvent(new CompositionEvent("compositionstart", { bubbles: true, data: "" }));
        box.dispatchEvent(new CompositionEvent("compositionupdate", { bubbles: true, data: "ni" }));
        box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter", keyCode: 229, isComposing: true,
                                                         bubbles: true, cancelable: true }));
        box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter", keyCode: 13, isComposing: true,
                                                         bubbles: true, cancelable: true }));
    }"""
    end = """(selector) => document.querySelector(selector).dispatchEvent(
        new CompositionEvent("compositionend", { bubbles: true, data: "你好" }))"""
    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            signed_in_pages(p, base, sessions, profile_prefix="teamhub-ime-chromium-") as pages:
        page = pages["lin"]
        page.goto(f"{base}/chat/rooms/{room.id}/")
        expect(page.locator("#chat-room")).to_have_attribute("data-ready", "true")
        expect(page.locator("[data-testid=live-status]")).to_have_text("live")
        before = _count(room)

        # The room's composer: the composing Enter sends nothing and keeps the text.
        page.fill("#composer-text", "你好")
        page.evaluate(composing_enter, "#composer-text")
        page.wait_for_timeout(800)
        assert _count(room) == before
        expect(page.locator("#composer-text")).to_have_value("你好")
        # Composition over: Enter sends.
        page.evaluate(end, "#composer-text")
        page.wait_for_timeout(100)
        page.focus("#composer-text")
        page.keyboard.press("Enter")
        expect(page.locator("[data-testid=message]", has_text="你好")).to_have_count(1)
        assert _count(room) == before + 1
        expect(page.locator("#composer-text")).to_have_value("")

        # The thread panel's composer.
        page.locator("[data-testid=message]", has_text="早上好").locator("[data-testid=thread-summary]").click()
        expect(page.locator("#thread-panel")).to_be_visible()
        page.fill("#thread-text", "회의실")
        page.evaluate(composing_enter, "#thread-text")
        page.wait_for_timeout(800)
        assert _count(room) == before + 1
        expect(page.locator("#thread-text")).to_have_value("회의실")
        page.evaluate(end, "#thread-text")
        page.keyboard.press("Escape")

        # An edit box: the composing Enter does not save.
        mine = page.locator("[data-testid=message]", has_text="你好")
        mine.hover()
        mine.locator("[data-action=edit]").click()
        page.fill(".edit-box", "你好吗")
        page.evaluate(composing_enter, ".edit-box")
        page.wait_for_timeout(600)
        expect(page.locator(".edit-box")).to_have_value("你好吗")
        assert _orm(lambda: Message.objects.filter(room=room, content="你好吗").exists()) is False
        page.evaluate(end, ".edit-box")
        page.wait_for_timeout(100)
        page.focus(".edit-box")
        page.keyboard.press("Enter")
        expect(page.locator("[data-testid=message]", has_text="你好吗")).to_have_count(1)

        # The quick switcher: the composing Enter opens nothing.
        page.keyboard.press("Control+k")
        expect(page.locator("[data-testid=switcher-option]").first).to_be_visible()
        page.fill("#switcher-input", "i18n")
        page.evaluate(composing_enter, "#switcher-input")
        page.wait_for_timeout(600)
        assert page.locator("#switcher").get_attribute("open") is not None
        page.evaluate(end, "#switcher-input")
        page.keyboard.press("Escape")

        # A search form: a real Enter while the composition is open submits nothing.
        page.goto(f"{base}/chat/search/")
        page.fill("input[name=q]", "明天")
        page.evaluate("""() => document.querySelector("input[name=q]").dispatchEvent(
            new CompositionEvent("compositionstart", { bubbles: true, data: "" }))""")
        page.focus("input[name=q]")
        page.keyboard.press("Enter")
        page.wait_for_timeout(800)
        assert "q=" not in page.url
        page.evaluate(end, "input[name=q]")
        page.wait_for_timeout(100)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "q=%E6%98%8E%E5%A4%A9" in page.url
