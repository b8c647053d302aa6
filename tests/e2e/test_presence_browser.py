"""Presence in real browsers (Debian's chromium via Playwright) on a real
uvicorn process: when one of two people closes the room page, the other sees
them go offline, live, and the room's online count drops."""

import pytest

from chatroom.services import room_create, room_join
from realtime import presence
from tests.browser import require_chromium, room_pages, session_for
from tests.processes import asgi_servers, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_closing_the_room_page_shows_the_user_offline_to_the_other(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-away"), make_user("bob-away")
    room = room_create(owner=alice, name="presence-browser")
    room_join(user=bob, room=room)
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            room_pages(p, base, room, sessions, profile_prefix="teamhub-presence-chromium-") as pages:
        a, b = pages["alice"], pages["bob"]
        bob_on_alice = a.locator(f"#members li[data-user-id='{bob.id}']")
        expect(a.locator("[data-testid=online-count]")).to_have_text("2 online")
        expect(bob_on_alice).to_have_attribute("data-status", "online")

        # Bob closes his tab (the page goes hidden first, as in a real close).
        b.close(run_before_unload=True)
        expect(bob_on_alice).to_have_attribute("data-status", "offline", timeout=20_000)
        expect(a.locator("[data-testid=online-count]")).to_have_text("1 online")
        assert presence.status_of([bob.id]) == {str(bob.id): "offline"}
        assert wait_for(lambda: presence.status_of([alice.id])[str(alice.id)] == "online", 5)
