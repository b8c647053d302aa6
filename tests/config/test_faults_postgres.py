"""PostgreSQL backends of a real uvicorn process terminated
(pg_terminate_backend), idle and in the middle of a request: the request in
flight answers 503 service_unavailable with Retry-After (JSON for the API,
the readable page for pages, whether a view or a middleware was querying),
and the next request reconnects by itself."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from django.db import connection

from accounts.services import api_login
from chatroom.services import message_post, room_create
from tests.browser import session_for
from tests.config.test_faults_redis import Browser
from tests.dbload import call, chat_load
from tests.processes import asgi_servers, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def _connect():
    """A connection of the test's own to the test database (not Django's)."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**{k: v for k, v in params.items() if k in (
        "host", "port", "dbname", "user", "password")}, autocommit=True)


def _terminate(admin, app: str, *, waiting_on_lock: bool = False) -> int:
    """Terminate the server's backends (all, or the one waiting on a lock); how many."""
    sql = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
           "WHERE datname = current_database() AND application_name = %s")
    if waiting_on_lock:
        sql += " AND wait_event_type = 'Lock'"
    return len(admin.execute(sql, [app]).fetchall())


def _in_flight(admin, app: str, table: str, request) -> tuple:
    """Run ``request`` while ``table`` is locked, so its query waits on the
    lock; terminate the backend it waits on; return what it answered."""
    answer = {}
    with _connect() as locker:
        locker.execute("BEGIN")
        locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        thread = threading.Thread(target=lambda: answer.setdefault("r", request()))
        thread.start()
        assert wait_for(lambda: admin.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            [app]).fetchone(), 30), "the request never waited on the lock"
        assert _terminate(admin, app, waiting_on_lock=True) == 1
        thread.join(30)
        locker.execute("ROLLBACK")
    return answer["r"]


def test_terminated_backends_answer_503_in_flight_and_reconnect_after(make_user, tmp_path):
    user = make_user("survivor")
    _, token = api_login(user=user, device_name="faults test")
    room = room_create(owner=user, name="pg-faults")
    message_post(actor=user, room=room, content="hello")
    session_key = session_for(user)
    app = f"faults-pg-{uuid.uuid4().hex[:8]}"
    messages = f"/api/v1/rooms/{room.id}/messages/"

    with asgi_servers(1, tmp_path, application_name=app, CHAT_MESSAGE_RATE=0) as (base,), _connect() as admin:
        app += "-0"
        page = Browser(base, session_key)
        assert call(base, "/api/v1/me", token=token)[0] == 200
        assert page.open(f"/chat/rooms/{room.id}/")[0] == 200

        # Idle pooled connections terminated, several of them (concurrent
        # requests grew the pool): the next requests just work.
        warm = chat_load([base], token, room.id, count=60, concurrency=12)
        assert set(warm.statuses) <= {200, 201}
        assert _terminate(admin, app) >= 3
        started = time.monotonic()
        status, _, body = call(base, "/api/v1/me", token=token)
        first_after_idle = time.monotonic() - started
        assert status == 200, body
        assert page.open(f"/chat/rooms/{room.id}/")[0] == 200

        # An API request whose query is running when its backend goes.
        status, headers, body = _in_flight(admin, app, "messages", lambda: call(base, messages, token=token))
        assert status == 503, body
        assert body == {"error": {"code": "service_unavailable",
                                  "message": "The database is unavailable; try again shortly."}}
        assert int(headers["Retry-After"]) > 0 and headers["X-Unavailable"] == "database"
        started = time.monotonic()
        status, _, body = call(base, messages, token=token)
        first_after_drop = time.monotonic() - started
        assert status == 200 and body["results"][0]["content"] == "hello"

        # A page whose view is querying: the readable 503 page.
        status, headers, html = _in_flight(admin, app, "chat_rooms", lambda: page.open(f"/chat/rooms/{room.id}/"))
        assert status == 503 and 'data-testid="service-unavailable"' in html and "database" in html
        assert int(headers["Retry-After"]) > 0
        assert page.open(f"/chat/rooms/{room.id}/")[0] == 200

        # A page whose middleware is loading the browser session: the same page.
        status, headers, html = _in_flight(admin, app, "django_session", lambda: page.open("/chat/"))
        assert status == 503 and 'data-testid="service-unavailable"' in html
        assert page.open("/chat/")[0] == 200

        # And a write after all that.
        assert call(base, messages, token=token, method="POST", body={"content": "still here"})[0] == 201
        print(f"first request after idle backends were terminated: {first_after_idle * 1000:.0f} ms; "
              f"after the in-flight one was: {first_after_drop * 1000:.0f} ms")

    log = (tmp_path / "asgi-0.log").read_text()
    assert log.count("WARNING config.faults: database unavailable") == 3, log
    assert "Traceback" not in log and "ERROR" not in log, log
