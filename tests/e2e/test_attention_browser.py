"""Read receipts and send later in real browsers (issue 18), on a real
uvicorn process: in a DM, "Seen" appears live under alice's message when bob
opens the conversation, with no reload; in a small room, the readers'
avatars show and a click lists them; "Send later" in the composer schedules
the composer's text, and the Scheduled page lists it with edit and cancel.
With SCREENSHOT_DIR set, the send-later menu, the receipts and the
Scheduled page are captured at 1280 and 390 px wide (and must not scroll
sideways)."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.services import profile_update
from chatroom import services
from chatroom.services import scheduled_messages
from chatroom.models import ScheduledMessage
from tests.browser import require_chromium, room_pages, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page, width, name):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, (name, width, scroll)


def test_seen_appears_live_in_a_dm_and_send_later_schedules(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    profile_update(actor=alice, user=alice, timezone="Europe/Berlin")
    lobby = services.room_create(owner=alice, name="lobby")
    for user in (bob, carol):
        services.room_join(user=user, room=lobby)
    dm, _ = services.dm_open(actor=alice, user_ids=[bob.id])
    services.message_post(actor=alice, room=lobby, content="standup in five")
    # The Scheduled page's other states, for its screenshot.
    failed = scheduled_messages.scheduled_create(
        actor=alice, room_id=lobby.id, content="this one could not go out",
        send_at=timezone.now() + timedelta(hours=1))
    ScheduledMessage.objects.filter(id=failed.id).update(status="failed", error="You are not a member of this room.")
    scheduled_messages.scheduled_create(
        actor=alice, room_id=lobby.id, content="Reminder: the quarterly review doc closes on Friday, please add your notes.",
        send_at=timezone.now() + timedelta(days=2))
    sessions = {name: session_for(user) for name, user in (("alice", alice), ("bob", bob), ("carol", carol))}
    shots = os.environ.get("SCREENSHOT_DIR")
    expect.set_options(timeout=15_000)

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p:
        with room_pages(p, base, dm, {"alice": sessions["alice"]}) as pages:
            a = pages["alice"]
            a.locator("#composer-text").fill("are you there?")
            a.keyboard.press("Enter")
            mine = a.locator("[data-testid=message]", has_text="are you there?")
            expect(mine).to_be_visible()
            expect(a.locator("[data-testid=seen]")).to_have_count(0)
            with room_pages(p, base, dm, {"bob": sessions["bob"]}) as other:
                expect(other["bob"].locator("[data-testid=message]", has_text="are you there?")).to_be_visible()
                # bob's page marks the DM read; alice's shows it, live.
                expect(mine.locator("[data-testid=seen]")).to_have_text("Seen")
                expect(a.locator("[data-testid=seen]")).to_have_count(1)

            # Send later: the composer's text, in 1 hour.
            a.locator("#composer-text").fill("the deploy is done, see the notes")
            a.click("[data-testid=send-later-toggle]")
            expect(a.locator("[data-testid=send-later-menu]")).to_be_visible()
            expect(a.locator("[data-testid=send-later-tomorrow]")).to_contain_text("09:00")
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                for width, height in ((1280, 800), (390, 844)):
                    a.set_viewport_size({"width": width, "height": height})
                    no_sideways_scroll(a, width, "send-later-menu")
                    a.screenshot(path=f"{shots}/send-later-menu-{width}.png")
            a.click("[data-testid=send-later-hour]")
            expect(a.locator("[data-testid=send-later-out]")).to_contain_text("Scheduled for")
            expect(a.locator("#composer-text")).to_have_value("")
            expect(a.locator("[data-testid=message]", has_text="the deploy is done")).to_have_count(0)

            # The Scheduled page lists it; editing it changes the text.
            a.click("[data-testid=scheduled-view]")
            items = a.locator("[data-testid=scheduled-item]")
            expect(items).to_have_count(2)
            if shots:
                for width, height in ((1280, 800), (390, 844)):
                    a.set_viewport_size({"width": width, "height": height})
                    no_sideways_scroll(a, width, "scheduled")
                    a.screenshot(path=f"{shots}/scheduled-{width}.png", full_page=True)
                a.set_viewport_size({"width": 1280, "height": 800})
            deploy = items.filter(has_text="the deploy is done")
            deploy.locator("[data-testid=scheduled-edit]").click()
            deploy.locator("textarea").fill("the deploy is done (edited)")
            deploy.locator("[data-testid=scheduled-save]").click()
            expect(a.locator(".messages")).to_contain_text("changed")
            expect(a.locator("[data-testid=scheduled-item]", has_text="(edited)")).to_be_visible()
            a.locator("[data-testid=scheduled-item]", has_text="quarterly review").locator(
                "[data-testid=scheduled-cancel]").click()
            expect(a.locator("[data-testid=scheduled-item]")).to_have_count(1)
            a.click("[data-testid=tab-failed]")
            expect(a.locator("[data-testid=scheduled-error]")).to_contain_text("not a member")

        # A small room: bob and carol read, alice sees their avatars and who.
        with room_pages(p, base, lobby, {"bob": sessions["bob"], "carol": sessions["carol"]}):
            with room_pages(p, base, lobby, {"alice": sessions["alice"]}) as pages:
                a = pages["alice"]
                avatars = a.locator("[data-testid=message]", has_text="standup in five").locator(
                    "[data-testid=receipt-avatars]")
                expect(avatars.locator(".receipt-avatar")).to_have_count(2)
                avatars.click()
                expect(a.locator("[data-testid=receipt]")).to_have_count(2)
                expect(a.locator("[data-testid=receipts-list]")).to_contain_text("carol")
                if shots:
                    for width, height in ((1280, 800), (390, 844)):
                        a.keyboard.press("Escape")
                        a.set_viewport_size({"width": width, "height": height})
                        avatars.click()  # placed again for this width
                        expect(a.locator("[data-testid=receipt]")).to_have_count(2)
                        no_sideways_scroll(a, width, "room-receipts")
                        a.screenshot(path=f"{shots}/room-receipts-{width}.png")

    edited = ScheduledMessage.objects.get(content="the deploy is done (edited)")
    assert edited.status == "scheduled" and edited.room_id == dm.id
    assert timedelta(minutes=55) < edited.send_at - timezone.now() < timedelta(minutes=61)
    assert ScheduledMessage.objects.get(content__startswith="Reminder").status == "cancelled"
