"""The web client's shell in Debian's chromium (Playwright) on a real uvicorn
process: the chat sidebar's live badges and tab title for two people, the
Ctrl-K quick switcher, the room settings and members pages (rename, kick,
transfer, a plain member refused), a 390 px pass over the main pages (no
sideways scroll, a compact nav, the sidebar as a drawer) and axe-core on the
main pages. With SCREENSHOT_DIR set, home, room and settings are captured
at 1280 and 390 px."""

import json
import os
from pathlib import Path

import pytest

from chatroom.models import RoomMember
from chatroom.services import dm_open, room_create, room_join
from orgs import services as org_services
from orgs.models import Role as OrgRole
from tests.browser import axe_violations, signed_in_pages, require_chromium, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _people(make_user, *names):
    users = [make_user(n) for n in names]
    lobby = room_create(owner=users[0], name=f"{names[0]}-lobby")
    for u in users[1:]:
        room_join(user=u, room=lobby)
    return users, lobby


def _expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # the first socket of a fresh server takes a few seconds
    return expect


def _sidebar_live(page, expect):
    expect(page.locator("[data-testid=chat-sidebar]")).to_have_attribute("data-live", "true")


def _send(page, text):
    page.locator("#composer-text").fill(text)
    page.keyboard.press("Enter")


def _send_in(page, url, text, expect):
    """Open a room, wait until its socket is live, and post ``text``."""
    page.goto(url)
    expect(page.locator("[data-testid=live-status]")).to_have_text("live")
    _send(page, text)


def test_two_people_sidebar_badges_and_tab_title_update_live(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    (alice, bob), room = _people(make_user, "alice-shell", "bob-shell")
    dm, _ = dm_open(actor=bob, user_ids=[str(alice.id)])
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}
    expect = _expect()

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, signed_in_pages(p, base, sessions) as pages:
        a, b = pages["alice"], pages["bob"]
        a.goto(base + "/")
        _sidebar_live(a, expect)
        row = a.locator(f"[data-testid=chat-sidebar] [data-room-id='{room.id}']")
        dm_row = a.locator(f"[data-testid=chat-sidebar] [data-room-id='{dm.id}']")
        expect(row.locator("[data-unread]")).to_be_hidden()
        expect(dm_row).to_contain_text("bob-shell")
        expect(a).to_have_title("Home · Teamhub")

        _send_in(b, f"{base}/chat/rooms/{room.id}/", "hello from bob", expect)
        expect(row.locator("[data-unread]")).to_have_text("1")
        expect(a).to_have_title("(1) Home · Teamhub")
        expect(row.locator("[data-mentions]")).to_be_hidden()

        _send(b, "@alice-shell look at this")
        expect(row.locator("[data-unread]")).to_have_text("2")
        expect(row.locator("[data-mentions]")).to_have_text("@1")
        expect(a).to_have_title("(2) Home · Teamhub")

        _send_in(b, f"{base}/chat/rooms/{dm.id}/", "psst, just you", expect)
        expect(dm_row.locator("[data-unread]")).to_have_text("1")
        expect(a).to_have_title("(3) Home · Teamhub")
        expect(a.locator("[data-total-badge]")).to_have_attribute("data-count", "3")

        # Reading the room (opening it from the sidebar) clears its badges, live.
        row.click()
        expect(a.locator("[data-testid=live-status]")).to_have_text("live")
        current = a.locator(f"[data-testid=chat-sidebar] [data-room-id='{room.id}']")
        expect(current).to_have_attribute("aria-current", "page")
        expect(current.locator("[data-unread]")).to_be_hidden()
        expect(current.locator("[data-mentions]")).to_be_hidden()
        expect(a).to_have_title(f"(1) #{room.name} · Teamhub")

        a.locator(f"[data-testid=chat-sidebar] [data-room-id='{dm.id}']").click()
        expect(a.locator("[data-testid=message]", has_text="psst, just you")).to_be_visible()
        expect(a).to_have_title("bob-shell · Teamhub")
    assert RoomMember.objects.get(room=room, user=alice).last_read_message_id is not None


def test_quick_switcher_filters_moves_opens_and_closes(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    (alice, bob), lobby = _people(make_user, "alice-jump", "bob-jump")
    target = room_create(owner=alice, name="quarterly-planning")
    room_create(owner=alice, name="quiz-night")
    dm, _ = dm_open(actor=alice, user_ids=[str(bob.id)])
    sessions = {"alice": session_for(alice)}
    expect = _expect()

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, signed_in_pages(p, base, sessions) as pages:
        a = pages["alice"]
        a.goto(base + "/jobs/")
        dialog = a.locator("[data-testid=switcher]")
        expect(dialog).to_be_hidden()
        a.keyboard.press("Control+k")
        expect(dialog).to_be_visible()
        expect(a.get_by_role("dialog", name="Jump to a conversation")).to_be_visible()
        box = a.locator("[data-testid=switcher-input]")
        expect(box).to_be_focused()
        expect(box).to_have_accessible_name("Room or person name")
        options = a.locator("[data-testid=switcher-option]")
        expect(options).to_have_count(4)  # lobby, two rooms, the DM

        box.fill("qrtpl")  # fuzzy: q-r-t ... p-l
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("#quarterly-planning")
        box.fill("qu")
        expect(options).to_have_count(2)
        expect(options.nth(0)).to_have_attribute("aria-selected", "true")
        box.press("ArrowDown")
        expect(options.nth(1)).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute("aria-activedescendant", "switcher-opt-1")
        box.press("ArrowDown")  # wraps round
        expect(options.nth(0)).to_have_attribute("aria-selected", "true")

        box.press("Escape")
        expect(dialog).to_be_hidden()
        # The sidebar's button opens it too, and focus goes back to it on close.
        a.goto(base + "/chat/")
        opener = a.locator("[data-testid=switcher-open]")
        opener.click()
        expect(box).to_be_focused()
        box.press("Escape")
        expect(opener).to_be_focused()

        a.keyboard.press("Control+k")
        box.fill("bob")
        expect(options.first).to_contain_text("bob-jump")
        box.press("Enter")
        a.wait_for_url(f"{base}/chat/rooms/{dm.id}/")

        a.keyboard.press("Control+k")
        box.fill("quart")
        expect(options.first).to_contain_text("#quarterly-planning")
        box.press("Enter")
        a.wait_for_url(f"{base}/chat/rooms/{target.id}/")
        expect(a.locator("[data-testid=room-title]")).to_contain_text("#quarterly-planning")


def test_room_settings_rename_kick_transfer_and_a_plain_member_refused(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    (owner, bob, carol), room = _people(make_user, "owner-set", "bob-set", "carol-set")
    sessions = {"owner": session_for(owner), "bob": session_for(bob)}
    expect = _expect()

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, signed_in_pages(p, base, sessions) as pages:
        o, b = pages["owner"], pages["bob"]
        # A plain member: no settings link, and the page itself is refused.
        b.goto(f"{base}/chat/rooms/{room.id}/")
        expect(b.locator("[data-testid=member-count]")).to_have_text("3 members")
        expect(b.locator("[data-testid=settings-link]")).to_have_count(0)
        refused = b.goto(f"{base}/chat/rooms/{room.id}/settings/")
        assert refused.status == 403
        expect(b.locator("[data-testid=error-page]")).to_have_attribute("data-status", "403")
        b.goto(f"{base}/chat/rooms/{room.id}/members/")
        expect(b.locator("[data-testid=member-row]")).to_have_count(3)
        expect(b.locator("[data-testid^=kick-]")).to_have_count(0)

        o.goto(f"{base}/chat/rooms/{room.id}/")
        o.click("[data-testid=settings-link]")
        general = o.locator("[data-testid=settings-general]")
        general.get_by_label("Name").fill("bad name!")
        general.get_by_role("button", name="Save").click()
        expect(o.locator("[data-testid=field-error-name]")).to_be_visible()
        general = o.locator("[data-testid=settings-general]")
        general.get_by_label("Name").fill("renamed-room")
        general.get_by_label("Topic").fill("Plans for the launch")
        general.get_by_role("button", name="Save").click()
        expect(o.locator(".messages")).to_contain_text("Settings saved.")
        expect(o.locator("h1")).to_have_text("Settings of #renamed-room")

        o.click("[data-testid=settings-members-link]")
        o.click("[data-testid=kick-carol-set]")
        expect(o.locator(".messages")).to_contain_text("carol-set was removed from the room.")
        expect(o.locator("[data-testid=member-row]")).to_have_count(2)

        o.goto(f"{base}/chat/rooms/{room.id}/settings/")
        transfer = o.locator("[data-testid=settings-transfer]")
        transfer.get_by_label("New owner").select_option(label="bob-set")
        transfer.get_by_role("button", name="Transfer").click()
        expect(o.locator(".messages")).to_contain_text("bob-set now owns #renamed-room")
        expect(o.locator("[data-testid=settings-transfer]")).to_have_count(0)
        o.click("[data-testid=settings-leave]")
        expect(o.locator(".messages")).to_contain_text("You left renamed-room.")

        b.goto(f"{base}/chat/rooms/{room.id}/")
        expect(b.locator("[data-testid=room-topic]")).to_have_text("Plans for the launch")
        expect(b.locator("[data-testid=settings-link]")).to_be_visible()
    room.refresh_from_db()
    assert (room.name, room.owner_id) == ("renamed-room", bob.id)
    assert set(RoomMember.objects.filter(room=room).values_list("user__username", flat=True)) == {"bob-set"}


def _main_pages(make_user):
    """Data for the main pages, and their paths (made before Playwright runs)."""
    from datetime import timedelta

    from django.utils import timezone

    from chatroom.services import message_post
    from jobs.models import Job, ScheduleRule

    (alice, bob), room = _people(make_user, "alice-pages", "bob-pages")
    room.description = "Where the team talks about everything"
    room.save(update_fields=["description"])
    dm, _ = dm_open(actor=alice, user_ids=[str(bob.id)])
    org = org_services.org_create(owner=alice, name="pages-org")
    org_services.member_add(actor=alice, org=org, user=bob, role=OrgRole.objects.system("member"))
    job = Job.objects.create(user=alice, type="copy", status="completed", progress=100,
                             payload={"source": {"remote": "photos", "path": "/2026"},
                                      "destination": {"remote": "backup", "path": "/photos"}},
                             result={"bytes": 209715738, "total_bytes": 209715738, "transfers": 3, "total_transfers": 3})
    # For the dashboard: a room alice has unread messages and a mention in
    # (never opened here), a running job and a schedule.
    design = room_create(owner=bob, name="design-review", description="Mockups and reviews")
    room_join(user=alice, room=design)
    message_post(actor=bob, room=design, content="New mockups are up for the settings page")
    message_post(actor=bob, room=design, content="@alice-pages could you review the drawer on a phone?")
    message_post(actor=bob, room=room, content="Morning all! The launch checklist is pinned in #design-review")
    message_post(actor=alice, room=room, content="Thanks, I will go through it after lunch")
    Job.objects.create(user=alice, type="sync", status="running", progress=42,
                       payload={"source": {"remote": "photos", "path": "/2026"},
                                "destination": {"remote": "backup", "path": "/photos"}},
                       result={"bytes": 88080384, "total_bytes": 209715738, "speed": 10590000, "eta": 12})
    ScheduleRule.objects.create(user=alice, name="Nightly photo backup", rule_type="cron", cron_expression="30 2 * * *",
                                job_template={"type": "copy", "source": {"remote": "photos", "path": "/"},
                                              "destination": {"remote": "backup", "path": "/"}},
                                next_run_at=timezone.now() + timedelta(hours=9))
    pages = {
        "home": "/", "room": f"/chat/rooms/{room.id}/", "settings": f"/chat/rooms/{room.id}/settings/",
        "members": f"/chat/rooms/{room.id}/members/", "dm": f"/chat/rooms/{dm.id}/", "chat": "/chat/",
        "threads": "/chat/threads/", "search": "/chat/search/?q=hello", "jobs": "/jobs/",
        "job": f"/jobs/{job.id}/", "job-new": "/jobs/new/", "schedules": "/jobs/schedules/",
        "remotes": "/jobs/remotes/", "orgs": "/orgs/", "org-chart": f"/orgs/{org.id}/",
        "org-directory": f"/orgs/{org.id}/members/", "notifications": "/notifications/",
        "profile": "/accounts/profile/",
    }
    return alice, pages


# The elements that reach past the window's right edge (the deepest few), to
# say what scrolls sideways.
WIDEST = """[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right
  > document.documentElement.clientWidth + 1 && !e.querySelector("*")).slice(0, 5)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)"""


def test_at_390px_nothing_scrolls_sideways_and_the_sidebar_is_a_drawer(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    alice, paths = _main_pages(make_user)
    sessions = {"alice": session_for(alice)}
    shots = os.environ.get("SCREENSHOT_DIR")
    expect = _expect()

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, signed_in_pages(p, base, sessions) as pages:
        a = pages["alice"]
        a.set_viewport_size({"width": 390, "height": 844})
        wide, tall = {}, {}
        for name, path in paths.items():
            response = a.goto(base + path)
            assert response.status == 200, (name, response.status)
            a.wait_for_load_state("networkidle")
            widths = a.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if widths[0] > widths[1]:
                wide[name] = (widths, a.evaluate(WIDEST))
            # The top bar stays one line: brand, notifications, Chats, Menu.
            header = a.locator(".site-header").bounding_box()
            if header["height"] >= 64:
                tall[name] = header["height"]
        assert not wide and not tall, (wide, tall)

        a.goto(base + paths["room"])
        sidebar = a.locator("[data-testid=chat-sidebar]")
        expect(sidebar).to_be_hidden()
        a.click("[data-testid=drawer-open]")
        expect(sidebar).to_be_visible()
        expect(a.locator("[data-testid=drawer-open]")).to_have_attribute("aria-expanded", "true")
        # The open drawer changes nothing beneath it (the page stays 390 px wide).
        assert a.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        a.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        expect(a.locator("[data-testid=drawer-open]")).to_be_focused()
        a.click("[data-testid=nav-toggle]")
        expect(a.locator("[data-testid=jobs-link]")).to_be_visible()

        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            for width, height in ((1280, 800), (390, 844)):
                a.set_viewport_size({"width": width, "height": height})
                for name, shot in (("home", "home"), ("room", "room"), ("settings", "room-settings"),
                                   ("members", "room-members-page")):
                    a.goto(base + paths[name])
                    a.wait_for_load_state("networkidle")
                    a.screenshot(path=f"{shots}/{shot}-{width}.png", full_page=True)
                if width == 390:
                    a.goto(base + paths["room"])
                    a.wait_for_load_state("networkidle")
                    a.click("[data-testid=drawer-open]")
                    a.wait_for_timeout(300)  # the drawer's slide-in, for the picture only
                    a.evaluate("document.fonts.ready.then(() => true)")
                    a.screenshot(path=f"{shots}/chat-drawer-390.png", full_page=True)
                else:
                    a.goto(base + paths["home"])
                    a.keyboard.press("Control+k")
                    a.locator("[data-testid=switcher-input]").fill("pa")
                    a.locator("[data-testid=switcher-option]").first.wait_for()
                    a.screenshot(path=f"{shots}/quick-switcher-1280.png")


AXE_PAGES = ("home", "room", "settings", "dm", "threads", "jobs", "job", "org-chart")


def test_axe_finds_no_serious_or_critical_violations_on_the_main_pages(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    alice, paths = _main_pages(make_user)
    sessions = {"alice": session_for(alice)}
    found = {}

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, signed_in_pages(p, base, sessions) as pages:
        a = pages["alice"]
        for width in (1280, 390):
            a.set_viewport_size({"width": width, "height": 844})
            for name in AXE_PAGES:
                a.goto(base + paths[name])
                a.wait_for_load_state("networkidle")
                violations = axe_violations(a)
                if violations:
                    found[f"{name}@{width}"] = violations
        # The switcher open, over a page.
        a.set_viewport_size({"width": 1280, "height": 844})
        a.goto(base + paths["home"])
        a.keyboard.press("Control+k")
        a.locator("[data-testid=switcher-input]").fill("a")
        a.locator("[data-testid=switcher-option]").first.wait_for()
        if violations := axe_violations(a):
            found["switcher"] = violations
    assert not found, json.dumps(found, indent=1)
