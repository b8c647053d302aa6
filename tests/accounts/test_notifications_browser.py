"""The nav badge is live in a real browser (Debian's chromium via Playwright)
on a real uvicorn process: a mention posted elsewhere bumps alice's badge and
appears at the top of her notifications page, as text, with no reload; marking
everything read in another tab brings the badge back to zero."""

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections

from chatroom.services import message_post, room_create, room_join
from tests.browser import ARGS, CHROMIUM, require_chromium, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def _in_thread(work):
    """Playwright's sync API runs an event loop in this thread, where Django
    refuses database calls: do the write in a thread of its own."""

    def run():
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def test_the_badge_and_list_update_live(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-badge", password=None), make_user("bob-badge", password=None)
    room = room_create(owner=bob, name="badge-room")
    room_join(user=alice, room=room)
    session = session_for(alice)
    profile = tempfile.mkdtemp(prefix="teamhub-notify-chromium-")
    try:
        with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p:
            context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS)
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/notifications/")
            badge = page.locator("[data-testid=notification-badge]")
            expect(badge).to_be_hidden()
            expect(page.locator("[data-testid=no-notifications]")).to_be_visible()
            # Wait for the socket's "ready" (sent once it is subscribed to the
            # user's group), from the very module instance notifications.js uses.
            page.wait_for_function("""async () => {
                const src = document.querySelector('script[src*="notifications.js"]').src;
                return (await import(new URL("./socket.js", src).href)).live.ready;
            }""")

            _in_thread(lambda: message_post(actor=bob, room=room,
                                            content="@alice-badge look <img src=x onerror=alert(1)>"))
            expect(badge).to_have_text("1")
            expect(badge).to_be_visible()
            item = page.locator("[data-testid=notifications] li.notification").first
            expect(item).to_contain_text("bob-badge mentioned you in #badge-room")
            expect(item).to_contain_text("<img src=x onerror=alert(1)>")
            expect(item.locator("img")).to_have_count(0)

            # Another tab marks all read: this tab's badge follows.
            other = context.new_page()
            other.goto(f"{base}/notifications/")
            other.click("[data-testid=read-all]")
            expect(badge).to_be_hidden()
            assert errors == []
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
