"""Group mentions and do not disturb in a real browser (Debian's chromium via
Playwright) on a real uvicorn process: a plain member's @all in a room of
more than 10 members is refused in the composer with the server's message
(and nothing is stored), the same text without it goes out; the DM composer
warns that the recipient is in DND, and the member list marks them; the
profile page's DND form and the org chart's handles render. With
SCREENSHOT_DIR set, the preferences (profile) page and the org chart are
captured at 1280 and 390 px wide (and must not scroll sideways)."""

import os
from pathlib import Path

import pytest

from accounts import dnd
from chatroom.models import Message
from chatroom.services import dm_open, room_create, room_join
from orgs import services as org_services
from orgs.models import Role as OrgRole
from tests.browser import ARGS, CHROMIUM, require_chromium, screenshot_pages, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_refused_at_all_dnd_warning_and_marker_in_the_browser(make_user, tmp_path):
    require_chromium()
    from django.conf import settings
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-att"), make_user("bob-att")
    room = room_create(owner=alice, name="all-hands")
    for user in [bob] + [make_user(f"crowd-{i}") for i in range(10)]:
        room_join(user=user, room=room)
    dm, _ = dm_open(actor=bob, user_ids=[alice.id])
    dnd.dnd_set(actor=alice, schedule={"start": "00:00", "end": "23:59"})
    org = org_services.org_create(owner=alice, name="att-org")
    platform = org_services.department_create(actor=alice, org=org, name="Platform", handle="platform-team")
    org_services.department_create(actor=alice, org=org, name="Infrastructure", parent=platform, handle="infra")
    org_services.department_create(actor=alice, org=org, name="Sales", handle="sales")
    org_services.member_add(actor=alice, org=org, user=bob, role=OrgRole.objects.system("member"), department=platform)
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}
    shots = os.environ.get("SCREENSHOT_DIR")
    expect.set_options(timeout=15_000)

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p:
        contexts = {}
        for who, session in sessions.items():
            context = p.chromium.launch_persistent_context(str(tmp_path / f"profile-{who}"), executable_path=CHROMIUM,
                                                           headless=True, args=ARGS)
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
            contexts[who] = context
        try:
            b = contexts["bob"].pages[0] if contexts["bob"].pages else contexts["bob"].new_page()
            a = contexts["alice"].pages[0] if contexts["alice"].pages else contexts["alice"].new_page()
            for page in (a, b):
                page.set_default_timeout(15_000)
            b.goto(f"{base}/chat/rooms/{room.id}/")
            expect(b.locator("[data-testid=live-status]")).to_have_text("live")
            b.locator("#composer-text").fill("@all the build is green")
            b.keyboard.press("Enter")
            expect(b.locator("#composer-error")).to_contain_text("Only room admins may use @all")
            b.locator("#composer-text").fill("the build is green")
            b.keyboard.press("Enter")
            expect(b.locator("[data-testid=message]", has_text="the build is green")).to_be_visible()
            # alice is in DND: marked in the member list, and warned of in the DM's composer.
            expect(b.locator(f'#members li[data-user-id="{alice.id}"]')).to_have_attribute("data-dnd", "1")
            b.goto(f"{base}/chat/rooms/{dm.id}/")
            expect(b.locator("[data-testid=dnd-warning]")).to_be_visible()
            expect(b.locator("[data-testid=dnd-warning]")).to_contain_text("alice-att is in do not disturb")
            # alice's own page knows she is in DND (the notifier's check).
            a.goto(f"{base}/chat/rooms/{room.id}/")
            expect(a.locator("[data-testid=live-status]")).to_have_text("live")
            expect(a.locator("html")).to_have_attribute("data-dnd", "1")
            a.goto(f"{base}/accounts/profile/")
            expect(a.locator("[data-testid=dnd-state]")).to_contain_text("On until")
            a.goto(f"{base}/orgs/{org.id}/")
            expect(a.locator(".dept-handle", has_text="@platform-team")).to_be_visible()

            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                screenshot_pages(base, shots, (("preferences-dnd", a, "/accounts/profile/#dnd"),
                                               ("org-chart-handles", a, f"/orgs/{org.id}/"),
                                               ("dm-dnd-warning", b, f"/chat/rooms/{dm.id}/")))
        finally:
            for context in contexts.values():
                context.close()
    assert not Message.objects.filter(content__contains="@all").exists()
    assert Message.objects.filter(room=room, content="the build is green").exists()
