"""How the browser tests launch Debian's chromium through Playwright (never
`playwright install`): one path, one set of flags, one skip-or-fail rule."""

import os

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
