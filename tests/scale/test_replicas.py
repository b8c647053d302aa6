"""Read replicas against a real streaming replica: a primary and a hot
standby started here from the pgserver wheel's binaries (tests/pg_cluster.py),
two uvicorn processes configured with DATABASE_REPLICA_URLS, and a real
WebSocket client.

How a read is seen to come from the replica: the standby's replay is paused
(``pg_wal_replay_pause()``), a message is posted, and a reader who is not
pinned does not see it until the standby is skipped for lagging. Everything
here runs in the servers; this process only talks HTTP, WebSocket and SQL.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.live_client import Socket
from tests.e2e.live_client import ws_url
from tests.pg_cluster import Cluster
from tests.processes import ROOT, asgi_servers, child_env, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PIN_SECONDS = 3
MAX_LAG_SECONDS = 3
PASSWORD = "correct horse battery staple"
METRICS_TOKEN = "replica-metrics-token"


class Api:
    def __init__(self, base: str, token: str | None = None):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body=None, **params) -> httpx.Response:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        return httpx.request(method, self.base + path, json=body, params=params or None, headers=headers, timeout=20)

    def on(self, base: str) -> "Api":
        return Api(base, self.token)


def _contents(api: Api, room_id: str) -> list[str]:
    response = api("GET", f"/api/v1/rooms/{room_id}/messages/")
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["results"]]


def _replica_status(base: str) -> dict:
    body = httpx.get(base + "/readyz", timeout=10).json()
    return body["replicas"]["replica1"]


def _wait_status(servers, status: str, timeout: float = 30) -> list[dict]:
    def all_there():
        found = [_replica_status(url) for url in servers]
        return found if all(f["status"] == status for f in found) else None

    found = wait_for(all_there, timeout, interval=0.2)
    assert found, f"replica never {status}: {[_replica_status(url) for url in servers]}"
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    cluster = Cluster()
    try:
        primary = cluster.migrated_primary(child_env())
        env = child_env(DATABASE_URL=primary.url())
        superuser = subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "ops",
                                    "--email", "ops@example.com"], cwd=ROOT, capture_output=True, text=True,
                                   env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, timeout=120)
        assert superuser.returncode == 0, superuser.stderr[-3000:]
        standby = cluster.add_standby()
        cluster.wait_replayed(standby)
        log_dir = tmp_path_factory.mktemp("replica-servers")
        with asgi_servers(2, log_dir, DATABASE_URL=primary.url(), DATABASE_REPLICA_URLS=standby.url(),
                          REPLICA_PIN_SECONDS=PIN_SECONDS, REPLICA_MAX_LAG_SECONDS=MAX_LAG_SECONDS,
                          REPLICA_CHECK_SECONDS=0.25, API_RATE_LIMIT_PER_MINUTE=100000, METRICS_TOKEN=METRICS_TOKEN,
                          CHAT_MESSAGE_RATE=100000) as servers:
            one, two = servers
            users = {}
            for name in ("alice", "bob"):
                api = Api(one)
                assert api("POST", "/api/v1/auth/register",
                           {"username": name, "email": f"{name}@example.com", "password": PASSWORD}).status_code == 201
                login = api("POST", "/api/v1/auth/login", {"login": name, "password": PASSWORD})
                assert login.status_code == 200, login.text
                users[name] = Api(one, login.json()["token"])
            room = users["alice"]("POST", "/api/v1/rooms/", {"name": "replicated", "is_private": False})
            assert room.status_code == 201, room.text
            room_id = room.json()["id"]
            assert users["bob"]("POST", f"/api/v1/rooms/{room_id}/join", {}).status_code == 200
            yield {"cluster": cluster, "primary": primary, "standby": standby, "servers": servers,
                   "alice": users["alice"], "bob": users["bob"], "room_id": room_id, "log_dir": log_dir}
    finally:
        cluster.close()


def _settled(stack) -> None:
    """The standby is streaming and caught up, both servers use it, and
    nobody is pinned any more."""
    standby = stack["standby"]
    if not standby.running():
        standby.start()
    standby.sql("SELECT pg_wal_replay_resume()")
    stack["cluster"].wait_replayed(standby)
    _wait_status(stack["servers"], "ok")
    time.sleep(PIN_SECONDS + 0.3)


def _post(api: Api, room_id: str, content: str) -> dict:
    response = api("POST", f"/api/v1/rooms/{room_id}/messages/", {"content": content})
    assert response.status_code == 201, response.text
    return response.json()


def _replica_serves_stale_reads(stack) -> None:
    """Proof that bob's history comes from the standby: with its replay
    paused, a message alice posts is not in what bob reads."""
    standby, rid = stack["standby"], stack["room_id"]
    one, two = stack["servers"]
    marker = f"unseen-{uuid.uuid4().hex[:8]}"
    standby.sql("SELECT pg_wal_replay_pause()")
    _post(stack["alice"].on(one), rid, marker)
    for base in (one, two):
        assert marker not in _contents(stack["bob"].on(base), rid)
    standby.sql("SELECT pg_wal_replay_resume()")
    stack["cluster"].wait_replayed(standby)


def test_reads_go_to_the_replica_writes_and_pinned_reads_to_the_primary(stack):
    _settled(stack)
    standby, primary, rid = stack["standby"], stack["primary"], stack["room_id"]
    one, two = stack["servers"]
    alice, bob = stack["alice"], stack["bob"]
    for status in (_replica_status(one), _replica_status(two)):
        assert status["status"] == "ok" and status["lag_seconds"] <= MAX_LAG_SECONDS

    _post(alice, rid, "before the pause")
    stack["cluster"].wait_replayed(standby)
    time.sleep(PIN_SECONDS + 0.3)

    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        # The write went to the primary (a standby refuses writes outright).
        posted = _post(alice.on(one), rid, "while paused zebracorn")
        assert primary.sql("SELECT count(*) FROM messages WHERE id = %s", [posted["id"]])[0][0] == 1
        assert standby.sql("SELECT count(*) FROM messages WHERE id = %s", [posted["id"]])[0][0] == 0

        # Alice wrote: her reads are pinned to the primary, in the other
        # process too (the pin is in Redis). Read first, well within the pin.
        assert "while paused zebracorn" in _contents(alice.on(two), rid)
        assert "while paused zebracorn" in _contents(alice.on(one), rid)
        found = alice.on(two)("GET", "/api/v1/search/messages", q="zebracorn")
        assert [r["message"]["id"] for r in found.json()["results"]] == [posted["id"]]

        # Bob is not pinned: his reads, on either process, come from the
        # standby, which has not replayed the post yet.
        for base in (one, two):
            seen = _contents(bob.on(base), rid)
            assert "before the pause" in seen and "while paused zebracorn" not in seen
        # Search and the room listing are lag-tolerant reads too.
        found = bob.on(two)("GET", "/api/v1/search/messages", q="zebracorn")
        assert found.status_code == 200 and found.json()["results"] == []

        # The pin lapses after REPLICA_PIN_SECONDS; alice then reads the
        # standby like anyone (still within its lag limit, or skipped).
        time.sleep(PIN_SECONDS + 0.2)
        status = _replica_status(two)
        if status["status"] == "ok":
            assert "while paused zebracorn" not in _contents(alice.on(two), rid)
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    stack["cluster"].wait_replayed(standby)
    assert "while paused zebracorn" in _contents(bob.on(one), rid)


def test_a_lagging_replica_is_skipped_until_it_catches_up(stack):
    _settled(stack)
    standby, rid = stack["standby"], stack["room_id"]
    servers = stack["servers"]
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        _post(stack["alice"], rid, "lag marker")
        found = _wait_status(servers, "lagging", timeout=MAX_LAG_SECONDS + 10)
        assert all(f["lag_seconds"] > MAX_LAG_SECONDS for f in found)
        ready = httpx.get(servers[0] + "/readyz", timeout=10)
        assert ready.status_code == 200 and "failing" not in ready.json()  # a lagging replica is not unready
        # Skipped: bob (not pinned by now) reads the primary and sees it.
        for base in servers:
            assert "lag marker" in _contents(stack["bob"].on(base), rid)
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    found = _wait_status(servers, "ok", timeout=15)
    assert all(f["lag_seconds"] <= MAX_LAG_SECONDS for f in found)
    # And used again once recovered.
    time.sleep(PIN_SECONDS + 0.3)
    _replica_serves_stale_reads(stack)


def test_a_stopped_replica_falls_back_to_the_primary_with_no_error(stack):
    _settled(stack)
    standby, rid = stack["standby"], stack["room_id"]
    servers = stack["servers"]
    alice, bob = stack["alice"], stack["bob"]
    # Connections to the standby are open in both servers' pools now.
    for base in servers:
        _contents(bob.on(base), rid)

    standby.stop("fast")
    _post(alice, rid, "replica stopped")
    # At once, before any health check has noticed: every read answers 200.
    statuses = []
    for _ in range(3):
        for base in servers:
            response = bob.on(base)("GET", f"/api/v1/rooms/{rid}/messages/")
            statuses.append(response.status_code)
            assert response.status_code == 200, response.text
            assert "replica stopped" in [m["content"] for m in response.json()["results"]]
            listing = bob.on(base)("GET", "/api/v1/rooms/")
            assert listing.status_code == 200, listing.text
    assert set(statuses) == {200}
    _wait_status(servers, "down", timeout=10)
    ready = httpx.get(servers[1] + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text  # the primary serves: still ready

    standby.start()
    stack["cluster"].wait_replayed(standby)
    _wait_status(servers, "ok", timeout=20)
    time.sleep(PIN_SECONDS + 0.3)
    _replica_serves_stale_reads(stack)


def test_the_sockets_catch_up_reads_the_primary(stack):
    """A resume after an ack must never miss a message the socket's user
    could read on the primary, so it never goes to a replica."""
    _settled(stack)
    standby, rid = stack["standby"], stack["room_id"]
    one, two = stack["servers"]
    anchor = _post(stack["alice"], rid, "socket anchor")
    stack["cluster"].wait_replayed(standby)
    time.sleep(PIN_SECONDS + 0.3)
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        _post(stack["alice"].on(one), rid, "missed while away")
        assert "missed while away" not in _contents(stack["bob"].on(two), rid)  # the replica is behind

        async def resume():
            async with Socket(ws_url(two)) as bob:
                await bob.send({"type": "auth", "token": stack["bob"].token})
                await bob.wait(lambda: bob.of("ready"))
                await bob.send({"type": "resume", "rooms": {rid: anchor["cursor"]}})
                await bob.wait(lambda: bob.of("message.new"))
                await asyncio.sleep(0.3)
                return [f["message"]["content"] for f in bob.of("message.new")]

        assert asyncio.run(resume()) == ["missed while away"]
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")


def test_settings_without_replicas_route_everything_to_the_primary():
    """Unset, there is no replica alias and the router answers default."""
    from django.conf import settings

    from core import replicas

    if os.environ.get("DATABASE_REPLICA_URLS"):
        pytest.skip("this run sets DATABASE_REPLICA_URLS itself")
    assert settings.REPLICA_ALIASES == [] and list(settings.DATABASES) == ["default"]
    with replicas.replica_reads(user_id=None):
        assert replicas.read_alias() == "default"


# ---------------------------------------------------------------------- the lag on /metrics and the dashboard

def _replica_metrics(base: str) -> tuple[float | None, dict]:
    """(teamhub_replica_lag_seconds for replica1 or None when left out,
    {state: value} of teamhub_replica_state for replica1)."""
    response = httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=20)
    assert response.status_code == 200, response.text
    lag, states = None, {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.labels.get("replica") != "replica1":
                continue
            if sample.name == "teamhub_replica_lag_seconds":
                lag = sample.value
            elif sample.name == "teamhub_replica_state":
                states[sample.labels["state"]] = sample.value
    return lag, states


def _staff_client(base: str) -> httpx.Client:
    """A browser-like session of the staff user, logged in through the login page."""
    client = httpx.Client(base_url=base, timeout=20)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    login = client.post("/accounts/login/", data={"username": "ops", "password": PASSWORD,
                                                  "csrfmiddlewaretoken": token}, headers={"Referer": base + "/"})
    assert login.status_code == 302, login.text[:500]
    return client


def _dashboard_row(client: httpx.Client) -> dict:
    page = client.get("/staff/dashboard/")
    assert page.status_code == 200, page.text[:500]
    row = re.search(r'<tr class="(\w+)" data-replica="replica1" data-status="(\w+)">(.*?)</tr>', page.text, re.S)
    assert row, page.text[:3000]
    cells = dict(re.findall(r'<td class="(?:num )?(\w+)"[^>]*>([^<]*)</td>', row.group(3)))
    return {"class": row.group(1), "status": row.group(2), **cells}


def test_the_lag_shows_on_metrics_and_the_dashboard_readably(stack):
    _settled(stack)
    standby, rid = stack["standby"], stack["room_id"]
    one, two = stack["servers"]
    client = _staff_client(two)

    # Caught up: a small lag, in seconds, and the replica in use.
    lag, states = _replica_metrics(one)
    assert lag is not None and 0 <= lag <= MAX_LAG_SECONDS, (lag, states)
    assert states["ok"] == 1 and states["down"] == 0 and states["lagging"] == 0
    row = _dashboard_row(client)
    assert row["status"] == "ok" and row["class"] == "ok" and row["state"] == "in use"
    assert re.fullmatch(r"\d\.\d s", row["lag"]), row
    assert row["server"] == f"127.0.0.1:{standby.port}"

    # Replay paused while the primary moves on: the lag grows past the limit.
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        _post(stack["alice"], rid, "lag shown")
        _wait_status(stack["servers"], "lagging", timeout=MAX_LAG_SECONDS + 10)
        lag, states = _replica_metrics(one)
        assert lag is not None and lag > MAX_LAG_SECONDS, (lag, states)
        assert states["lagging"] == 1 and states["ok"] == 0
        row = _dashboard_row(client)
        assert row["status"] == "lagging" and row["class"] == "down" and row["state"] == "skipped: lagging"
        shown = re.fullmatch(r"(\d+(?:\.\d)?) s", row["lag"])
        assert shown and float(shown.group(1)) > MAX_LAG_SECONDS, row
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    _wait_status(stack["servers"], "ok", timeout=15)

    # Stopped: no lag sample, the state says down, and so does the page.
    standby.stop("fast")
    try:
        _wait_status(stack["servers"], "down", timeout=10)
        lag, states = _replica_metrics(one)
        assert lag is None and states["down"] == 1 and states["ok"] == 0, (lag, states)
        row = _dashboard_row(client)
        assert row["status"] == "down" and row["lag"] == "down" and row["state"] == "skipped: down"
    finally:
        standby.start()
    stack["cluster"].wait_replayed(standby)
    _wait_status(stack["servers"], "ok", timeout=20)
    client.close()
