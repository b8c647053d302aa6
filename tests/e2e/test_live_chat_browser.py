"""Two people in two browser contexts (Debian's chromium via Playwright) on a
real uvicorn process: bob's typing indicator, his message, and alice's
reaction to it appear on the other's page live, with no reload."""

import pytest

from chatroom.services import room_create, room_join
from tests.browser import require_chromium, room_pages, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_message_reaction_and_typing_appear_live_on_the_other_page(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-live"), make_user("bob-live")
    room = room_create(owner=alice, name="live-browser")
    room_join(user=bob, room=room)
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            room_pages(p, base, room, sessions, profile_prefix="teamhub-live-chromium-") as pages:
        a, b = pages["alice"], pages["bob"]
        expect(a.locator("[data-testid=online-count]")).to_have_text("2 online")

        b.locator("#composer-text").press_sequentially("hi alice", delay=30)
        expect(a.locator("[data-testid=typing]")).to_have_text("bob-live is typing…")
        expect(b.locator("[data-testid=typing]")).to_have_text("")  # never to the typist
        b.keyboard.press("Enter")
        on_alice = a.locator("[data-testid=message]", has_text="hi alice")
        expect(on_alice).to_be_visible()
        expect(a.locator("[data-testid=typing]")).to_have_text("")

        # A reaction from the emoji picker (the full Unicode set).
        on_alice.hover()
        on_alice.locator("[data-action=react]").click()
        a.locator("[data-testid=emoji-search]").fill("party popper")
        a.locator("[data-testid=emoji-grid] [data-emoji='🎉']").first.click()
        on_bob = b.locator("[data-testid=message]", has_text="hi alice")
        expect(on_bob.locator("[data-testid=reactions] button")).to_have_text("🎉 1")
