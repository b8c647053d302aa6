"""Redis stopped under a real uvicorn process, then started again: the API and
the pages go on or answer 503 as the README's Faults table says, /readyz
names Redis, and everything is normal again once Redis is back."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request

import pytest
from django.conf import settings

from accounts.services import api_login
from chatroom.services import room_create
from tests.browser import session_for
from tests.dbload import call
from tests.processes import asgi_servers, wait_for
from tests.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

PASSWORD = "correct horse battery staple"


class Browser:
    """A cookie-keeping HTTP client for the pages (CSRF included)."""

    def __init__(self, base: str, session_key: str | None = None):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        if session_key:
            host = urllib.parse.urlparse(base).hostname
            self.jar.set_cookie(http.cookiejar.Cookie(
                0, settings.SESSION_COOKIE_NAME, session_key, None, False, host, False, False, "/", True,
                False, None, False, None, None, {}))

    def open(self, path: str, form: dict | None = None) -> tuple[int, object, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data)
        if data is not None:
            request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read().decode()

    def csrf(self, page: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def _ready(base: str) -> bool:
    return call(base, "/readyz")[0] == 200


def test_redis_stopped_and_started_again_under_a_running_server(make_user, tmp_path):
    user = make_user("rider", password=PASSWORD)
    _, token = api_login(user=user, device_name="faults test")
    room = room_create(owner=user, name="faults")
    session_key = session_for(user)
    redis = ThrowawayRedis(tmp_path).start()
    try:
        with asgi_servers(1, tmp_path, REDIS_URL=redis.url, LAST_ACTIVE_INTERVAL_SECONDS=1) as (base,):
            page = Browser(base, session_key)
            messages = f"/api/v1/rooms/{room.id}/messages/"

            # Redis up: nothing is said to be down.
            status, headers, _ = call(base, "/api/v1/me", token=token)
            assert status == 200 and "X-Unavailable" not in headers
            assert call(base, messages, token=token, method="POST", body={"content": "before"})[0] == 201
            status, headers, html = page.open("/chat/")
            assert status == 200 and 'data-testid="parts-down"' not in html
            assert _ready(base)

            redis.stop()

            # Token-authenticated reads and writes go on (throttle, activity
            # touch and message rate fail open) and say Redis is down.
            status, headers, body = call(base, "/api/v1/me", token=token)
            assert status == 200, body
            assert headers["X-Unavailable"] == "redis"
            status, headers, body = call(base, messages, token=token, method="POST", body={"content": "during"})
            assert status == 201, body
            assert headers["X-Unavailable"] == "redis"
            status, _, body = call(base, messages + "?limit=10", token=token)
            assert status == 200 and "during" in [m["content"] for m in body["results"]]

            # Logging in needs the lockout's counters: 503 in the contract's shape.
            status, headers, body = call(base, "/api/v1/auth/login", method="POST",
                                         body={"login": "rider", "password": PASSWORD})
            assert status == 503, body
            assert body["error"]["code"] == "service_unavailable" and "Redis" in body["error"]["message"]
            assert set(body) == {"error"} and int(headers["Retry-After"]) > 0
            assert headers["X-Unavailable"] == "redis"

            # A page still loads, logged in, with a notice saying what is down.
            status, headers, html = page.open("/chat/")
            assert status == 200
            assert 'data-testid="parts-down" data-part="redis"' in html
            assert "rider" in html  # still logged in: sessions are in PostgreSQL

            # A page that needs Redis answers the readable 503 page.
            anonymous = Browser(base)
            status, _, form = anonymous.open("/accounts/password/reset/")
            assert status == 200
            status, headers, html = anonymous.open(
                "/accounts/password/reset/",
                {"email": "rider@example.com", "csrfmiddlewaretoken": anonymous.csrf(form)})
            assert status == 503
            assert 'data-testid="service-unavailable"' in html and "Redis" in html
            assert int(headers["Retry-After"]) > 0

            status, _, body = call(base, "/readyz")
            assert status == 503 and "redis" in body["failing"] and body["redis"].startswith("error")

            redis.start()
            started = time.monotonic()
            assert wait_for(lambda: _ready(base), 60, interval=0.2), call(base, "/readyz")
            recovered = time.monotonic() - started

            # All normal again, with no restart of the server.
            status, headers, body = call(base, "/api/v1/me", token=token)
            assert status == 200 and "X-Unavailable" not in headers
            status, headers, body = call(base, "/api/v1/auth/login", method="POST",
                                         body={"login": "rider", "password": PASSWORD})
            assert status == 200 and body["token"], body
            status, headers, _ = call(base, messages, token=token, method="POST", body={"content": "after"})
            assert status == 201 and "X-Unavailable" not in headers
            status, headers, html = page.open("/chat/")
            assert status == 200 and 'data-testid="parts-down"' not in html
            status, _, body = call(base, messages + "?limit=10", token=token)
            assert {"before", "during", "after"} <= {m["content"] for m in body["results"]}  # none lost
            print(f"ready {recovered:.2f} s after Redis started again")
        log = (tmp_path / "asgi-0.log").read_text()
        assert "Internal Server Error" not in log
    finally:
        redis.stop()
