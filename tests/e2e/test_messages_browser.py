"""The room's messages and composer in Debian's chromium (Playwright) on a real
uvicorn process: markdown and an XSS payload rendered safely (no dialog, the
text visible), mention autocomplete, the emoji picker (into the composer and
as a reaction), an IME composition whose Enter does not send, a pasted file
uploaded with a progress bar (and a too-large one refused with a clear
error), and a jump to a message from a notification (highlighted, in view).
With SCREENSHOT_DIR set, the room (markdown, avatars, grouping, reactions,
the emoji picker open) is captured at 1280 and 390 px wide; neither scrolls
sideways."""

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse

from chatroom.services import (
    message_edit,
    message_post,
    reaction_add,
    room_create,
    room_join,
)
from tests.browser import require_chromium, room_pages, session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

XSS = ('<script>alert("xss")</script> <img src=x onerror=alert(1)> '
       '[click me](javascript:alert(1)) [data](data:text/html,<script>alert(1)</script>)')
MARKDOWN = "**release** is _today_, see `make ship`:\n\n- tests pass\n- docs updated\n\n> ship it"


def _api(page, path):
    """A GET of the JSON API from inside the page (its session cookie)."""
    return page.evaluate("async (p) => (await fetch('/api/v1/' + p, {credentials: 'same-origin'})).json()", path)


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_markdown_mentions_emoji_ime_and_paste_upload(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-md"), make_user("bob-md")
    room = room_create(owner=alice, name="markdown-room")
    room_join(user=bob, room=room)
    message_post(actor=bob, room=room, content=MARKDOWN)
    second = message_post(actor=bob, room=room, content="and a second line from me, grouped under the frist")
    message_edit(actor=bob, message_id=second.id, content="and a second line from me, grouped under the first")
    hostile = message_post(actor=bob, room=room, content=XSS)
    reaction_add(actor=bob, message_id=hostile.id, emoji="👀")
    sessions = {"alice": session_for(alice)}
    expect.set_options(timeout=15_000)

    with asgi_servers(1, tmp_path, CHAT_UPLOAD_MAX_BYTES="40000") as (base,), sync_playwright() as p, \
            room_pages(p, base, room, sessions, profile_prefix="teamhub-md-chromium-") as pages:
        a = pages["alice"]
        dialogs = []
        a.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        expect(a.locator("#chat-room")).to_have_attribute("data-ready", "true")

        # Markdown, rendered by the server and shown as formatting.
        md = a.locator("[data-testid=message]", has_text="release")
        text = md.locator("[data-testid=message-content]")
        expect(text.locator("strong")).to_have_text("release")
        expect(text.locator("em")).to_have_text("today")
        expect(text.locator("code")).to_have_text("make ship")
        expect(text.locator("li")).to_have_count(2)
        expect(text.locator("blockquote")).to_have_text("ship it")
        # bob's next message is grouped under the first (no second name and avatar).
        expect(a.locator("[data-testid=message]", has_text="grouped under")).to_have_class(re.compile(r"\bgrouped\b"))
        # "(edited)" shows the earlier versions on click.
        grouped = a.locator(f"[data-testid=message][data-id='{second.id}']")
        # As a person does, the pointer comes to the message first: the
        # toolbar of the message it rested on (just below) hides again.
        grouped.hover()
        grouped.locator("[data-testid=edited]").click()
        expect(grouped.locator("[data-testid=edit-history]")).to_contain_text("grouped under the frist")
        grouped.locator("[data-testid=edited]").click()
        expect(grouped.locator("[data-testid=edit-history]")).to_have_count(0)
        # The payload is visible as text and does nothing.
        xss = a.locator(f"[data-testid=message][data-id='{hostile.id}']")
        expect(xss).to_contain_text('<script>alert("xss")</script>')
        expect(xss).to_contain_text("<img src=x onerror=alert(1)>")
        assert xss.locator("script, img, [onerror]").count() == 0
        assert all(not (h or "").lower().startswith(("javascript:", "data:"))
                   for h in xss.locator("[data-testid=message-content] a").evaluate_all("els => els.map(e => e.getAttribute('href'))"))
        # Relative time, exact on hover.
        stamp = md.locator("time.msg-time")
        expect(stamp).to_have_text(re.compile(r"just now|min\.? ago"))
        assert stamp.get_attribute("title")

        # Mention autocomplete: "@bo" offers bob-md; Enter picks, Enter sends.
        box = a.locator("#composer-text")
        box.click()
        box.press_sequentially("thanks @bo", delay=20)
        option = a.locator("[data-testid=mention-option][data-name='bob-md']")
        expect(option).to_be_visible()
        box.press("Enter")
        expect(box).to_have_value("thanks @bob-md ")
        box.press_sequentially("for the notes", delay=10)
        box.press("Enter")
        sent = a.locator("[data-testid=message]", has_text="thanks @bob-md for the notes")
        expect(sent.locator("span.mention[data-mention='bob-md']")).to_be_visible()
        page = _api(a, f"rooms/{room.id}/messages/")
        [mine] = [m for m in page["results"] if m["content"] == "thanks @bob-md for the notes"]
        assert mine["mentions"] == [str(bob.id)]

        # The emoji picker: search, pick into the composer.
        a.locator("#composer [data-testid=composer-emoji]").click()
        picker = a.locator("[data-testid=emoji-picker]")
        expect(picker).to_be_visible()
        expect(picker).to_have_attribute("data-ready", "true")
        # The full Unicode set (rendered in chunks).
        a.wait_for_function("document.querySelectorAll('[data-testid=emoji-grid] [data-testid=emoji-option]').length > 1800")
        a.locator("[data-testid=emoji-search]").fill("party popper")
        expect(picker.locator("[data-testid=emoji-grid] [data-testid=emoji-option]")).to_have_count(1)
        picker.locator("[data-emoji='🎉']").first.click()
        expect(picker).to_be_hidden()
        expect(box).to_have_value("🎉")
        box.press("Enter")
        expect(a.locator("[data-testid=message-content]", has_text="🎉")).to_be_visible()

        # ... and as a reaction, with any emoji of the set.
        xss.hover()
        xss.locator("[data-action=react]").click()
        a.locator("[data-testid=emoji-search]").fill("thumbs up")
        picker.locator("[data-testid=emoji-grid] [data-emoji='👍']").first.click()
        expect(xss.locator("[data-testid=reactions] button[data-emoji='👍']")).to_have_text("👍 1")
        expect(xss.locator("[data-testid=reactions] button[data-emoji='👍']")).to_have_attribute("aria-pressed", "true")

        # IME: the Enter that confirms a composition does not send.
        box.click()
        box.fill("にほんご")
        box.evaluate("""(el) => {
            el.dispatchEvent(new CompositionEvent('compositionstart', {bubbles: true, data: ''}));
            el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 229, isComposing: true, bubbles: true, cancelable: true}));
            el.dispatchEvent(new CompositionEvent('compositionend', {bubbles: true, data: 'にほんご'}));
        }""")
        expect(box).to_have_value("にほんご")
        box.press("End")
        box.press_sequentially(" を送る", delay=10)
        box.press("Enter")
        expect(a.locator("[data-testid=message-content]", has_text="にほんご を送る")).to_be_visible()
        contents = [m["content"] for m in _api(a, f"rooms/{room.id}/messages/")["results"]]
        assert "にほんご" not in contents and contents.count("にほんご を送る") == 1

        # A pasted file: uploaded at once with a progress bar, then sent with the message.
        paste = """([name, size]) => {
            const el = document.getElementById('composer-text');
            const data = new DataTransfer();
            data.items.add(new File(['x'.repeat(size)], name, {type: 'text/plain'}));
            el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }"""
        box.click()
        a.evaluate(paste, ["pasted-notes.txt", 20000])
        upload = a.locator("[data-testid=upload]", has_text="pasted-notes.txt")
        expect(upload).to_be_visible()
        expect(upload).to_have_attribute("data-state", "done")
        assert upload.locator("[data-testid=upload-progress]").evaluate("p => p.value") == 1
        box.fill("the notes, pasted")
        box.press("Enter")
        sent = a.locator("[data-testid=message]", has_text="the notes, pasted")
        expect(sent.locator("[data-testid=attachment]")).to_contain_text("pasted-notes.txt")
        expect(a.locator("[data-testid=upload]")).to_have_count(0)
        # Dropped on the composer: the same.
        a.evaluate("""() => {
            const data = new DataTransfer();
            data.items.add(new File(['dropped'], 'dropped.txt', {type: 'text/plain'}));
            const form = document.getElementById('composer');
            form.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
            form.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
        }""")
        expect(a.locator("[data-testid=upload]", has_text="dropped.txt")).to_have_attribute("data-state", "done")
        box.press("Enter")
        expect(a.locator("[data-testid=attachment]", has_text="dropped.txt")).to_be_visible()
        # Too large: refused at once, with a clear error, and nothing is sent.
        a.evaluate(paste, ["too-big.bin", 50000])
        expect(a.locator("[data-testid=upload]", has_text="too large")).to_be_visible()
        expect(a.locator("[data-testid=composer-error]")).to_contain_text("too-big.bin is too large")

        assert dialogs == []

        shots = os.environ.get("SCREENSHOT_DIR")
        if shots:
            out = Path(shots)
            out.mkdir(parents=True, exist_ok=True)
            a.locator("[data-testid=upload] button").click()
            for width in (1280, 390):
                a.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
                a.locator("#composer-text").fill("")
                a.evaluate("window.scrollTo(0, 0)")
                # The picker open for a reaction on the message that has some.
                xss.scroll_into_view_if_needed()
                xss.hover()
                xss.locator("[data-action=react]").click()
                expect(picker).to_be_visible()
                expect(picker).to_have_attribute("data-ready", "true")
                a.screenshot(path=str(out / f"chat-room-messages-{width}.png"))
                _no_sideways_scroll(a)
                a.keyboard.press("Escape")


def test_a_notification_opens_the_room_at_the_message(make_user, tmp_path, settings):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings.CHAT_MESSAGE_RATE = 1000  # the seeding below posts 120 messages at once
    alice, bob = make_user("alice-jump"), make_user("bob-jump")
    room = room_create(owner=alice, name="jump-room")
    room_join(user=bob, room=room)
    seeded = [message_post(actor=bob if i % 3 else alice, room=room, content=f"earlier message {i}") for i in range(120)]
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}
    expect.set_options(timeout=15_000)

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            room_pages(p, base, room, sessions, profile_prefix="teamhub-jump-chromium-") as pages:
        a, b = pages["alice"], pages["bob"]
        # alice has read everything (her page marked it); she leaves the room's page.
        expect(a.locator("[data-testid=message]", has_text="earlier message 119")).to_be_visible()
        a.goto(base + reverse("notifications"))
        b.locator("#composer-text").fill(f"@{alice.username} the answer is 42")
        b.keyboard.press("Enter")
        expect(b.locator("[data-testid=message]", has_text="the answer is 42")).to_be_visible()
        target_id = b.locator("[data-testid=message]", has_text="the answer is 42").get_attribute("data-id")

        a.reload()
        item = a.locator("li.notification[data-type=mention]")
        expect(item).to_contain_text("mentioned you")
        item.locator("[data-testid=open]").click()
        a.wait_for_url(f"**/chat/rooms/{room.id}/?around={target_id}")
        focus = a.locator(f"[data-testid=message][data-id='{target_id}']")
        expect(focus).to_have_class(re.compile(r"\bfocus\b"))
        expect(focus).to_be_in_viewport()
        expect(focus.locator("span.mention.me")).to_have_text(f"@{alice.username}")
        # The first unread message follows the "new messages" divider.
        expect(a.locator(f"[data-testid=unread-divider] + [data-id='{target_id}']")).to_have_count(1)
        # Older messages load on scroll up, down to the first.
        a.wait_for_function("""() => {
            const t = document.getElementById('timeline');
            t.scrollTop = 0;
            return [...t.querySelectorAll('[data-testid=message-content]')].some((n) => n.textContent === 'earlier message 0');
        }""", polling=250)

        # Opened in the middle (a search hit), newer messages load on scroll down.
        a.goto(f"{base}/chat/rooms/{room.id}/?around={seeded[10].id}")
        expect(a.locator(f"[data-testid=message][data-id='{seeded[10].id}']")).to_have_class(re.compile(r"\bfocus\b"))
        assert a.locator("[data-testid=message]", has_text="the answer is 42").count() == 0
        expect(a.locator("[data-testid=jump-latest]")).to_be_visible()
        a.wait_for_function("""() => {
            const t = document.getElementById('timeline');
            t.scrollTop = t.scrollHeight;
            return [...t.querySelectorAll('[data-testid=message-content]')].some((n) => n.textContent.includes('the answer is 42'));
        }""", polling=250)
        expect(a.locator("[data-testid=jump-latest]")).to_be_hidden()

        # A search hit names room, author and time, and jumps to the message.
        a.goto(f"{base}/chat/search/?q=answer&person=bob-jump")
        hit = a.locator("[data-testid=search-hit]")
        expect(hit).to_have_count(1)
        expect(hit).to_contain_text("#jump-room")
        expect(hit).to_contain_text("bob-jump")
        expect(hit.locator("time")).to_have_text(re.compile(r"just now|min\.? ago"))
        shots = os.environ.get("SCREENSHOT_DIR")
        if shots:
            for width in (1280, 390):
                a.set_viewport_size({"width": width, "height": 700})
                a.screenshot(path=str(Path(shots) / f"chat-search-{width}.png"))
                _no_sideways_scroll(a)
        hit.locator("[data-testid=search-jump]").click()
        a.wait_for_url(f"**/chat/rooms/{room.id}/?around={target_id}")
        expect(a.locator(f"[data-testid=message][data-id='{target_id}']")).to_have_class(re.compile(r"\bfocus\b"))


# The page's Notification API replaced by a recorder (headless chromium shows
# none), permission granted, and the tab reported hidden.
FAKE_NOTIFICATIONS = """
window.__notes = [];
class FakeNotification extends EventTarget {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { super(); this.title = title; this.options = options; window.__notes.push(this); }
  close() {}
}
window.Notification = FakeNotification;
Object.defineProperty(document, "hidden", { get: () => true });
Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
"""


def test_a_mention_while_the_tab_is_hidden_shows_a_desktop_notification(make_user, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    alice, bob = make_user("alice-dn"), make_user("bob-dn")
    room = room_create(owner=alice, name="desktop-room")
    room_join(user=bob, room=room)
    sessions = {"alice": session_for(alice), "bob": session_for(bob)}
    expect.set_options(timeout=15_000)

    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, \
            room_pages(p, base, room, sessions, profile_prefix="teamhub-dn-chromium-") as pages:
        a, b = pages["alice"], pages["bob"]
        a.add_init_script(FAKE_NOTIFICATIONS)
        a.reload()
        expect(a.locator("[data-testid=live-status]")).to_have_text("live")
        switch = a.locator("[data-testid=desktop-notifications]")
        expect(switch).not_to_be_checked()  # off by default
        # Off: nothing shows.
        b.locator("#composer-text").fill(f"@{alice.username} not yet")
        b.keyboard.press("Enter")
        expect(a.locator("[data-testid=message]", has_text="not yet")).to_be_visible()
        switch.check()
        a.wait_for_function("async () => (await (await fetch('/api/v1/me')).json()).profile.preferences.desktop_notifications === true")
        assert a.evaluate("window.__notes.length") == 0

        # On, and the tab hidden: a mention shows one; a plain message does not.
        b.locator("#composer-text").fill("no mention here")
        b.keyboard.press("Enter")
        b.locator("#composer-text").fill(f"@{alice.username} look at this")
        b.keyboard.press("Enter")
        a.wait_for_function("window.__notes.length > 0")
        note = a.evaluate("({title: window.__notes[0].title, body: window.__notes[0].options.body, n: window.__notes.length})")
        assert note["n"] == 1 and "mentioned you" in note["title"] and note["body"].endswith("look at this")
        # The switch stays on after a reload (it is the user's preference).
        a.reload()
        expect(a.locator("[data-testid=desktop-notifications]")).to_be_checked()
        # Clicking the notification opens the message.
        b.locator("#composer-text").fill(f"@{alice.username} and this")
        b.keyboard.press("Enter")
        a.wait_for_function("window.__notes.length > 0")
        a.evaluate("window.__notes[0].dispatchEvent(new Event('click'))")
        a.wait_for_url(re.compile(r".*\?around=[0-9a-f-]{36}$"))
        expect(a.locator("[data-testid=message].focus")).to_contain_text("and this")
