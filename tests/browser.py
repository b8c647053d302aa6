"""How the browser tests launch Debian's chromium through Playwright (never
`playwright install`): one path, one set of flags, one skip-or-fail rule."""

import contextlib
import os
import shutil
import tempfile

import pytest

CHROMIUM = "/usr/bin/chromium"
# Headless flags known to work on these machines; without the networking ones
# chromium keeps dialling out through a closed network.
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def require_chromium() -> None:
    """Skip when chromium is missing; under CI (the `CI` variable) fail instead,
    because there the browser tests must run."""
    if os.path.exists(CHROMIUM):
        return
    message = (f"{CHROMIUM} is missing (install Debian's chromium: `apt-get install -y chromium`; "
               "`python3 dev.py test` does it on Debian as root)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def session_for(user) -> str:
    """A logged-in session id for ``user`` (the session cookie's value)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@contextlib.contextmanager
def signed_in_pages(playwright, base: str, sessions: dict, *, profile_prefix: str = "teamhub-chromium-"):
    """One chromium per ``sessions`` entry ({name: session_for(user)}, made
    before Playwright's loop runs, which Django's ORM refuses), each with a
    fresh profile and signed in to ``base``; yields {name: page}, on no page
    yet. Every browser is closed and its profile removed afterwards."""
    from django.conf import settings

    profiles = [tempfile.mkdtemp(prefix=profile_prefix) for _ in sessions]
    contexts = []
    try:
        pages = {}
        for (who, session), profile in zip(sessions.items(), profiles):
            context = playwright.chromium.launch_persistent_context(profile, executable_path=CHROMIUM,
                                                                    headless=True, args=ARGS)
            contexts.append(context)
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            pages[who] = page
        yield pages
    finally:
        for context in contexts:
            context.close()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def room_pages(playwright, base: str, room, sessions: dict, *, profile_prefix: str = "teamhub-chromium-"):
    """signed_in_pages, each on ``room``'s page with its socket live."""
    from playwright.sync_api import expect

    with signed_in_pages(playwright, base, sessions, profile_prefix=profile_prefix) as pages:
        for page in pages.values():
            page.goto(f"{base}/chat/rooms/{room.id}/")
            # The state, not the word: the word is in the page's language.
            expect(page.locator("[data-testid=live-status]")).to_have_attribute("data-state", "live")
        yield pages


def screenshot_pages(base: str, shots: str, views) -> None:
    """Each (name, page, url) of ``views`` at 1280 and 390 px wide, saved as
    ``<shots>/<name>-<width>.png``; none may scroll sideways."""
    for width, height in ((1280, 800), (390, 844)):
        for name, page, url in views:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(base + url)
            page.wait_for_load_state("networkidle")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, (name, width, scroll)
            page.screenshot(path=f"{shots}/{name}-{width}.png", full_page=True)


# axe-core's impacts that fail a page (minor and moderate are reported, not failed).
AXE_FAILING = ("serious", "critical")


def axe_violations(page) -> list[dict]:
    """axe-core (the pinned axe-playwright-python package's copy) run on the
    page as it is now: its serious and critical violations, each with the
    rule, its help text and the first few offending nodes' selectors."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"][:5]]}
            for v in results.response["violations"] if v["impact"] in AXE_FAILING]
