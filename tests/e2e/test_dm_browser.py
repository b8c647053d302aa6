"""Two people in two browsers (Debian's chromium via Playwright) on a real
uvicorn process: alice opens a DM with bob from his profile's Message
button, and they exchange messages live, with no reload; bob's "Direct
messages" section lists alice. With SCREENSHOT_DIR set, the DM pages are
captured at 1280 and 390 px wide (and must not scroll sideways)."""

import os
from pathlib import Path

import pytest

from chatroom.models import Message, Room
from chatroom.services import room_create, room_join
from orgs import services as org_services
from orgs.models import Role as OrgRole
from tests.browser import require_chromium, screenshot_pages, session_for, signed_in_pages
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_two_browsers_open_a_dm_and_exchange_messages_live(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob, carol = make_user("alice-dm"), make_user("bob-dm"), make_user("carol-dm")
    lobby = room_create(owner=alice, name="dm-lobby")
    room_join(user=bob, room=lobby)
    room_join(user=carol, room=lobby)
    org = org_services.org_create(owner=alice, name="dm-org")
    org_services.member_add(actor=alice, org=org, user=bob, role=OrgRole.objects.system("member"))
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}
    shots = os.environ.get("SCREENSHOT_DIR")
    expect.set_options(timeout=15_000)  # the first socket of a fresh server takes a few seconds

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            signed_in_pages(p, base, sessions) as pages:
        a, b = pages["alice"], pages["bob"]

        a.goto(f"{base}/chat/people/{bob.id}/")
        a.click("[data-testid=message-button]")
        expect(a.locator("[data-testid=dm-title]")).to_contain_text("bob-dm")
        expect(a.locator("[data-testid=live-status]")).to_have_text("live")
        assert "/chat/rooms/" in a.url
        # (The ORM is off limits inside Playwright's loop; the tail checks the database.)
        dm_path = a.url.split(base, 1)[1]

        b.goto(f"{base}/chat/")
        expect(b.locator("[data-testid=dm-list]")).to_contain_text("alice-dm")
        b.locator("[data-testid=dm-list] a").first.click()
        expect(b.locator("[data-testid=live-status]")).to_have_text("live")

        a.locator("#composer-text").fill("hi bob, just us")
        a.keyboard.press("Enter")
        expect(b.locator("[data-testid=message]", has_text="hi bob, just us")).to_be_visible()
        b.locator("#composer-text").fill("hi alice, nobody else sees this")
        b.keyboard.press("Enter")
        expect(a.locator("[data-testid=message]", has_text="nobody else sees this")).to_be_visible()

        # The member list's "message" button opens a DM with carol.
        a.goto(f"{base}/chat/rooms/{lobby.id}/")
        a.click("[data-testid=message-carol-dm]")
        expect(a.locator("[data-testid=dm-title]")).to_contain_text("carol-dm")

        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            screenshot_pages(base, shots, (("dm-room", a, dm_path), ("dm-list", b, "/chat/"),
                                           ("dm-person", a, f"/chat/people/{bob.id}/"),
                                           ("room-members", a, f"/chat/rooms/{lobby.id}/"),
                                           ("org-directory", a, f"/orgs/{org.id}/members/")))
    dm = Room.objects.get(kind="dm", members__user=bob)
    assert Room.objects.filter(kind="dm", members__user=carol).exists()
    assert dm_path == f"/chat/rooms/{dm.id}/"
    assert sorted(Message.objects.filter(room=dm).values_list("content", flat=True)) == [
        "hi alice, nobody else sees this", "hi bob, just us"]
