"""A person's path through chat in a real browser (Debian's chromium driven
by Playwright) against a live server: create a room, post, reply, react,
edit, delete and search."""

import shutil
import tempfile

import pytest

from tests.browser import ARGS, CHROMIUM, require_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]




def test_create_post_reply_react_edit_delete_search(live_server, make_user, settings, tmp_path):
    require_chromium()
    from django.test import Client
    from playwright.sync_api import expect, sync_playwright

    settings.MEDIA_ROOT = tmp_path
    user = make_user(username="browser-chatter")
    django_client = Client()
    django_client.force_login(user)
    session = django_client.cookies["sessionid"].value

    base = live_server.url
    profile_dir = tempfile.mkdtemp(prefix="teamhub-chat-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(profile_dir, executable_path=CHROMIUM, headless=True, args=ARGS)
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("dialog", lambda dialog: dialog.accept())  # "Delete this message?"

            # Create a room.
            page.goto(base + "/chat/")
            page.fill("#id_name", "browser-room")
            page.click("[data-testid=room-create] button[type=submit]")
            expect(page.locator("h1")).to_have_text("#browser-room")
            # The page's module has attached its handlers (an Enter typed
            # before that would only add a newline).
            page.wait_for_selector("#chat-room[data-ready=true]", state="attached")

            # Post; the link is clickable, markup stays text.
            page.fill("#composer-text", "hello browser https://example.com/page <img src=x onerror=alert(1)>")
            page.keyboard.press("Enter")
            posted = page.locator("[data-testid=message]", has_text="hello browser")
            expect(posted).to_be_visible()
            # By id from here on: the reply's quote will contain the same text.
            first = page.locator(f"li[data-id='{posted.get_attribute('data-id')}']")
            link = first.locator("a[href='https://example.com/page']")
            expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
            expect(first.locator("img")).to_have_count(0)
            expect(first.locator("[data-testid=message-content]")).to_contain_text("<img src=x onerror=alert(1)>")

            # Reply.
            first.locator("[data-action=reply]").click()
            page.fill("#composer-text", "a thoughtful reply")
            page.click("#send")
            reply = page.locator("[data-testid=message]", has_text="a thoughtful reply")
            expect(reply.locator("[data-testid=reply-quote]")).to_contain_text("hello browser")
            reply = page.locator(f"li[data-id='{reply.get_attribute('data-id')}']")

            # React.
            first.locator("[data-action=react]").click()
            page.fill("[data-testid=emoji-search]", "thumbs up")
            page.locator("[data-testid=emoji-grid] [data-emoji='👍']").first.click()
            expect(first.locator("[data-testid=reactions] button")).to_have_text("👍 1")

            # Edit.
            first.locator("[data-action=edit]").click()
            first.locator(".edit-box").fill("hello edited words")
            first.locator("[data-action=save-edit]").click()
            edited = page.locator("[data-testid=message]", has_text="hello edited words")
            expect(edited.locator(".edited")).to_be_visible()

            # Delete the reply (the owner sees that it was removed).
            reply.locator("[data-action=delete]").click()
            expect(page.get_by_text("This message was removed.")).to_be_visible()
            expect(page.locator("[data-testid=message]", has_text="a thoughtful reply")).to_have_count(0)

            # Search.
            page.goto(base + "/chat/search/")
            page.fill("[data-testid=search-form] input[name=q]", "edited")
            page.click("[data-testid=search-form] button[type=submit]")
            results = page.locator("[data-testid=search-results] li")
            expect(results).to_have_count(1)
            expect(results.locator("mark")).to_have_text("edited")
            context.close()
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)

    from chatroom.models import Message

    texts = set(Message.objects.filter(room__name="browser-room", message_type="text").values_list("content", "is_deleted"))
    assert ("hello edited words", False) in texts and ("a thoughtful reply", True) in texts
