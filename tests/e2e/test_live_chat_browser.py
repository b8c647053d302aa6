"""Two people in two browser contexts (Debian's chromium via Playwright) on a
real uvicorn process: bob's typing indicator, his message, and alice's
reaction to it appear on the other's page live, with no reload."""

import shutil
import tempfile

import pytest
from django.conf import settings

from chatroom.services import room_create, room_join
from tests.browser import ARGS, CHROMIUM, require_chromium, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_message_reaction_and_typing_appear_live_on_the_other_page(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-live"), make_user("bob-live")
    room = room_create(owner=alice, name="live-browser")
    room_join(user=bob, room=room)
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}

    profiles = [tempfile.mkdtemp(prefix="teamhub-live-chromium-") for _ in range(2)]
    try:
        with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p:
            pages = {}
            for (who, session), profile in zip(sessions.items(), profiles):
                context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                               args=ARGS)
                context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(15_000)
                page.goto(f"{base}/chat/rooms/{room.id}/")
                expect(page.locator("[data-testid=live-status]")).to_have_text("live")
                pages[who] = page
            a, b = pages["alice"], pages["bob"]
            expect(a.locator("[data-testid=online-count]")).to_have_text("2 online")

            b.locator("#composer-text").press_sequentially("hi alice", delay=30)
            expect(a.locator("[data-testid=typing]")).to_have_text("bob-live is typing…")
            expect(b.locator("[data-testid=typing]")).to_have_text("")  # never to the typist
            b.keyboard.press("Enter")
            on_alice = a.locator("[data-testid=message]", has_text="hi alice")
            expect(on_alice).to_be_visible()
            expect(a.locator("[data-testid=typing]")).to_have_text("")

            on_alice.locator("[data-action=react][data-emoji='🎉']").click()
            on_bob = b.locator("[data-testid=message]", has_text="hi alice")
            expect(on_bob.locator("[data-testid=reactions] button")).to_have_text("🎉 1")
            for page in pages.values():
                page.context.close()
    finally:
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)
