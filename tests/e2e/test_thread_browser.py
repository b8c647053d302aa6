"""Threads in two browsers (Debian's chromium via Playwright) on a real
uvicorn process: alice opens the thread of bob's room message and replies;
bob, on the room page, sees the thread's unread count rise without a reload
(on the root and on the nav's "Threads" badge), opens it, and the count
clears. With SCREENSHOT_DIR set, the room with its thread panel and the
"Threads" page are captured at 1280 and 390 px wide (and must not scroll
sideways)."""

import os
from pathlib import Path

import pytest

from chatroom.models import Message, ThreadFollow
from chatroom.services import message_post, room_create, room_join
from tests.browser import require_chromium, screenshot_pages, room_pages, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_thread_reply_raises_the_others_unread_count_live_and_opening_it_clears_it(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-th"), make_user("bob-th")
    room = room_create(owner=alice, name="thread-lobby")
    room_join(user=bob, room=room)
    root = message_post(actor=bob, room=room, content="what do we ship on friday?")
    message_post(actor=alice, room=room, content="a plain room message")
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}
    shots = os.environ.get("SCREENSHOT_DIR")
    expect.set_options(timeout=15_000)

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            room_pages(p, base, room, sessions) as pages:
        a, b = pages["alice"], pages["bob"]
        root_on_b = b.locator(f"[data-testid=message][data-id='{root.id}']")
        expect(root_on_b.locator("[data-testid=thread-summary]")).to_have_count(0)
        expect(b.locator("[data-testid=threads-badge]")).to_be_hidden()

        # alice opens the thread on bob's message and replies twice.
        a.locator(f"[data-testid=message][data-id='{root.id}'] [data-testid=open-thread]").click()
        expect(a.locator("[data-testid=thread-panel]")).to_be_visible()
        expect(a.locator("[data-testid=thread-root]")).to_contain_text("what do we ship on friday?")
        a.locator("#thread-text").fill("the thread panel")
        a.keyboard.press("Enter")
        expect(a.locator("[data-testid=thread-reply]", has_text="the thread panel")).to_be_visible()
        # The reply is not in the room's own timeline.
        expect(a.locator("[data-testid=timeline] [data-testid=message]", has_text="the thread panel")).to_have_count(0)

        # bob (who wrote the root, so follows it) sees the count rise, without a reload.
        expect(root_on_b.locator("[data-testid=thread-unread]")).to_have_text("1")
        expect(b.locator("[data-testid=threads-badge]")).to_have_text("1")
        a.locator("#thread-text").fill("and the threads page")
        a.keyboard.press("Enter")
        expect(root_on_b.locator("[data-testid=thread-unread]")).to_have_text("2")
        expect(root_on_b.locator("[data-testid=thread-summary]")).to_contain_text("2 replies")
        expect(b.locator("[data-testid=threads-badge]")).to_have_text("2")

        # bob opens it: he reads both replies, and the counts clear.
        root_on_b.locator("[data-testid=thread-summary]").click()
        expect(b.locator("[data-testid=thread-reply]")).to_have_count(2)
        expect(root_on_b.locator("[data-testid=thread-unread]")).to_have_count(0)
        expect(b.locator("[data-testid=threads-badge]")).to_be_hidden()
        # A live reply from alice lands in bob's open panel and is read at once.
        a.locator("#thread-text").fill("live into the open panel")
        a.keyboard.press("Enter")
        expect(b.locator("[data-testid=thread-reply]", has_text="live into the open panel")).to_be_visible()
        b.wait_for_timeout(800)
        expect(b.locator("[data-testid=threads-badge]")).to_be_hidden()

        # bob replies, also to the room: alice sees it in the panel and in the timeline.
        b.locator("#thread-text").fill("friday: threads")
        b.locator("[data-testid=thread-also]").check()
        b.locator("[data-testid=thread-send]").click()
        expect(a.locator("[data-testid=thread-reply]", has_text="friday: threads")).to_be_visible()
        expect(a.locator("[data-testid=timeline] [data-testid=message]", has_text="friday: threads")).to_be_visible()

        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            # One unread thread for bob's Threads page.
            a.locator("#thread-text").fill("one more for the list")
            a.keyboard.press("Enter")
            b.locator("[data-testid=thread-close]").click()
            expect(b.locator("[data-testid=threads-badge]")).to_have_text("1")
            screenshot_pages(base, shots, (("thread-panel", a, f"/chat/rooms/{room.id}/?thread={root.id}"),
                                           ("threads-page", b, "/chat/threads/")))
    replies = list(Message.objects.filter(thread_id=root.id).order_by("created_at").values_list("content", flat=True))
    assert replies[:4] == ["the thread panel", "and the threads page", "live into the open panel", "friday: threads"]
    assert ThreadFollow.objects.get(root_id=root.id, user=bob).following is True
