"""The product on several hosts: network namespaces made here as root
(tests/netns.py), one per "host", each with its own address on a bridge:

- ``db``: PostgreSQL (tests/pg_cluster.py) and Redis (tests/redis_server.py),
  listening on that host's address only;
- ``web1`` and ``web2``: a uvicorn web process each;
- ``worker``: a Celery worker;
- this process, in the root namespace, is the client: HTTP and WebSocket to
  both web hosts, SQL to the database host.

It shows live chat across hosts (a post on one host reaches sockets on both,
a socket's send on one reaches the other), a resume on the other host after
a socket was away, a job submitted on one web host run by the worker host
(its pid is in that namespace), a cancel sent to the other web host reaching
the running job on the worker host, and a job that runs to completion.

Without root it runs on loopback addresses (127.0.0.2, ...) instead, and
says so in the test summary (a warning); as root, namespaces that can't be
made fail the test. The namespaces are removed afterwards, pass or fail.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
import warnings

import httpx
import pytest

from tests.e2e.live_client import Socket, ws_url
from tests.netns import Network, loopback_reason
from tests.pg_cluster import Cluster
from tests.processes import ROOT, asgi_servers, celery_worker, child_env, stop, wait_for
from tests.redis_server import ThrowawayRedis
from tests.scale.sentinel_scenario import make_tree

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def network():
    net = Network.make()
    if net.mode != "netns":
        warnings.warn(f"multi-host test on loopback addresses, not network namespaces: {loopback_reason()}")
    try:
        yield net
    finally:
        net.close()
        assert net.leftovers() == [], f"namespaces or links left behind: {net.leftovers()}"


class Client:
    """One user's API calls, to whichever web host."""

    def __init__(self, token: str | None = None):
        self.token = token

    def __call__(self, base: str, method: str, path: str, body=None) -> httpx.Response:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        return httpx.request(method, base + path, json=body, headers=headers, timeout=20)

    def ok(self, base: str, method: str, path: str, body=None, status: int = 200) -> dict:
        response = self(base, method, path, body)
        assert response.status_code == status, (method, path, response.status_code, response.text[:500])
        return response.json()


def _login(base: str, username: str) -> Client:
    return Client(Client().ok(base, "POST", "/api/v1/auth/login", {"login": username, "password": PASSWORD})["token"])


def _run(argv: list[str], env: dict, **extra_env) -> None:
    result = subprocess.run(argv, cwd=ROOT, env={**env, **extra_env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


async def _socket(base: str, token: str) -> Socket:
    sock = await Socket(ws_url(base)).__aenter__()
    await sock.send({"type": "auth", "token": token})
    await sock.wait(lambda: sock.of("ready"))
    return sock


def _contents(sock: Socket, room_id: str) -> list[str]:
    return [f["message"]["content"] for f in sock.of("message.new") if f["message"]["room_id"] == room_id]


async def _chat_across_hosts(web1: str, web2: str, alice: Client, bob: Client, rid: str) -> None:
    a = await _socket(web1, alice.token)
    b = await _socket(web2, bob.token)
    try:
        # An API post on web2 reaches the socket on web1 and the one on web2.
        await asyncio.to_thread(alice.ok, web2, "POST", f"/api/v1/rooms/{rid}/messages/",
                                {"content": "from web2's API"}, 201)
        for sock in (a, b):
            await sock.wait(lambda s=sock: "from web2's API" in _contents(s, rid))
        # A socket's send on web2 reaches the socket on web1.
        await b.send({"type": "message.send", "room_id": rid, "content": "from bob's socket", "client_id": "c-1"})
        await b.wait(lambda: b.of("ack"))
        await a.wait(lambda: "from bob's socket" in _contents(a, rid))
        cursor = b.of("ack")[0]["message"]["cursor"]
    finally:
        await b.__aexit__(None, None, None)
    # Bob is away; alice posts on web1. Bob comes back on the OTHER host
    # (web1) and resumes from his cursor: exactly what he missed, in order.
    missed = [f"missed {i}" for i in range(3)]
    for text in missed:
        await asyncio.to_thread(alice.ok, web1, "POST", f"/api/v1/rooms/{rid}/messages/", {"content": text}, 201)
    await a.wait(lambda: all(t in _contents(a, rid) for t in missed))
    back = await _socket(web1, bob.token)
    try:
        await back.send({"type": "resume", "rooms": {rid: cursor}})
        await back.wait(lambda: len(_contents(back, rid)) >= len(missed))
        await asyncio.sleep(0.5)  # a duplicate would arrive now
        assert _contents(back, rid) == missed
    finally:
        await back.__aexit__(None, None, None)
        await a.__aexit__(None, None, None)


def test_chat_and_jobs_across_hosts(network, tmp_path):
    started = time.monotonic()
    db_host, web1_host, web2_host, worker_host = (network.add(n) for n in ("db", "web1", "web2", "worker"))
    clients = str(network.subnet) if network.subnet else "127.0.0.0/8"
    print(f"hosts ({network.mode}): " + ", ".join(f"{h.name} {h.address}" for h in network.hosts))
    roots = tmp_path / "files"
    make_tree(roots / "big", 6, 512 * 1024)  # 3 MB at 200 KB/s: running long enough to cancel
    make_tree(roots / "small", 3, 16 * 1024)
    for name in ("big_copy", "small_copy"):
        (roots / name).mkdir()
    run_dir = tmp_path / "runs"
    run_dir.mkdir()

    cluster = Cluster(db_host, clients=clients)
    redis = ThrowawayRedis(tmp_path, host=db_host)
    worker = None
    try:
        primary = cluster.migrated_primary(child_env())
        redis.start()
        env = {"DATABASE_URL": primary.url(), "REDIS_URL": redis.url, "REDIS_KEY_PREFIX": f"mh{uuid.uuid4().hex[:6]}",
               "ALLOWED_HOSTS": ",".join(h.address for h in network.hosts),
               "RCLONE_LOCAL_ROOTS": str(roots), "JOBS_RUN_DIR_ROOT": str(run_dir), "JOBS_HEARTBEAT_SECONDS": 1,
               "API_RATE_LIMIT_PER_MINUTE": 100000, "CHAT_MESSAGE_RATE": 100000,
               "LOGIN_FAILURE_LIMIT_PER_IP": 100000}
        # The admin user from the client's side, over the network.
        _run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "ops",
              "--email", "ops@example.com"], child_env(**env), DJANGO_SUPERUSER_PASSWORD=PASSWORD)
        print(f"database ready after {time.monotonic() - started:.1f} s")
        worker = celery_worker(tmp_path, "worker", host=worker_host, **env)
        with asgi_servers(2, tmp_path, hosts=[web1_host, web2_host], **env) as servers:
            web1, web2 = servers
            if network.mode == "netns":
                # Each part really runs in its host's namespace.
                assert servers.procs[0].pid in web1_host.pids() and servers.procs[1].pid in web2_host.pids()
                assert worker.pid in worker_host.pids()
                assert db_host.address not in web1 and web1_host.address in web1

            # People and a room, through the API of both hosts.
            users = {}
            for name, base in (("alice", web1), ("bob", web2)):
                Client().ok(base, "POST", "/api/v1/auth/register",
                            {"username": name, "email": f"{name}@example.com", "password": PASSWORD}, 201)
                users[name] = _login(base, name)
            alice, bob = users["alice"], users["bob"]
            rid = alice.ok(web1, "POST", "/api/v1/rooms/", {"name": "across", "is_private": False}, 201)["id"]
            bob.ok(web2, "POST", f"/api/v1/rooms/{rid}/join", {})

            print(f"servers up after {time.monotonic() - started:.1f} s")
            asyncio.run(asyncio.wait_for(_chat_across_hosts(web1, web2, alice, bob, rid), 60))

            # A job submitted on web1 runs on the worker host; a cancel sent
            # to web2 reaches it there.
            ops = _login(web2, "ops")
            for name in ("big", "big_copy", "small", "small_copy"):
                ops.ok(web1, "POST", "/api/v1/remotes/",
                       {"name": f"mh_{name}", "type": "local", "options": {"root": str(roots / name)}}, 201)
            job = ops.ok(web1, "POST", "/api/v1/jobs/",
                         {"type": "copy", "source": {"remote": "mh_big", "path": "/"},
                          "destination": {"remote": "mh_big_copy", "path": "/"}, "options": {"bwlimit": "200K"}}, 201)

            def status(job_id, base=web2):
                return ops.ok(base, "GET", f"/api/v1/jobs/{job_id}/")["status"]

            assert wait_for(lambda: status(job["id"]) == "running", 30), worker_log(tmp_path)
            ran_by = primary.sql("SELECT worker FROM jobs WHERE id = %s", [job["id"]])[0][0]
            if network.mode == "netns":
                assert int(ran_by.rsplit(":", 1)[1]) in worker_host.pids(), (ran_by, worker_host.pids())
                assert wait_for(lambda: _rclones(worker_host), 10), "no rclone copying on the worker host"
            ops.ok(web2, "POST", f"/api/v1/jobs/{job['id']}/cancel", {})
            # "cancelled" is recorded by the runner once its rclone stopped
            # (jobs.services.job_control): the cancel reached the worker host.
            assert wait_for(lambda: status(job["id"], web1) == "cancelled", 30), worker_log(tmp_path)
            if network.mode == "netns":
                assert not _rclones(worker_host)
            # Cancelled while copying: not every file made it.
            assert len(list((roots / "big_copy").iterdir())) < 6

            small = ops.ok(web2, "POST", "/api/v1/jobs/",
                           {"type": "copy", "source": {"remote": "mh_small", "path": "/"},
                            "destination": {"remote": "mh_small_copy", "path": "/"}}, 201)
            assert wait_for(lambda: status(small["id"], web1) in ("completed", "failed"), 30), worker_log(tmp_path)
            assert status(small["id"]) == "completed", worker_log(tmp_path)
            assert sorted(p.name for p in (roots / "small_copy").iterdir()) == ["f00.bin", "f01.bin", "f02.bin"]

            logs = "".join(p.read_text() for p in sorted(tmp_path.glob("asgi-*.log")))
            assert "Internal Server Error" not in logs and "Traceback" not in logs, logs[-3000:]
    finally:
        if worker is not None:
            stop(worker)
        redis.stop()
        cluster.close()
    print(f"multi-host test took {time.monotonic() - started:.1f} s")


def _rclones(host) -> list[int]:
    """The rclone processes running on ``host``."""
    found = []
    for pid in host.pids():
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() == "rclone":
                    found.append(pid)
        except OSError:
            continue
    return found


def worker_log(directory) -> str:
    path = directory / "worker.log"
    return path.read_text()[-3000:] if path.exists() else ""
