"""The Redis Sentinel failover scenario, shared by
tests/scale/test_sentinel_failover.py (which asserts on its outcome) and
bench/sentinel_failover.py (which prints its figures).

Real processes: a Sentinel setup (tests/sentinel_cluster.py), two uvicorn
web processes and a Celery worker on it, ``SOCKETS`` WebSocket clients
(half on each web process) that resume by cursor whenever their socket
closes, one socket that posts with ``message.send``, one API client that
posts messages and logs in over and over, and a bandwidth-limited rclone
copy job running. Then the master is SIGKILLed, and everything is recorded
against the kill's clock: when the sentinels promoted the replica, when each
socket was ready again, the first 2xx login and message post, every status
and close code, every message each socket received; and a second job is
submitted once Redis is back.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.e2e.live_client import Socket, ws_url
from tests.processes import asgi_servers, celery_worker, stop
from tests.sentinel_cluster import SentinelCluster

PASSWORD = "correct horse battery staple"
SOCKETS = 20
POST_INTERVAL = 0.1  # the API client posts 10 messages a second, the socket poster about 7
RUN_BEFORE_KILL = 2.0  # seconds of steady traffic before the kill
RUN_AFTER_RECOVERY = 2.0  # and after every socket was back
RECOVERY_DEADLINE = 30.0  # seconds after the kill for everything to be back


def server_env(cluster: SentinelCluster, local_roots: str, run_dir: str) -> dict:
    return {
        **cluster.env(),
        # Idle sockets notice a dead Redis by their next presence beat.
        "PRESENCE_HEARTBEAT_SECONDS": 1, "PRESENCE_TTL_SECONDS": 10,
        "CHAT_MESSAGE_RATE": 100000, "WS_FRAME_RATE": 1000, "API_RATE_LIMIT_PER_MINUTE": 100000,
        "LOGIN_FAILURE_LIMIT_PER_IP": 100000,
        "RCLONE_LOCAL_ROOTS": local_roots, "JOBS_RUN_DIR_ROOT": run_dir, "JOBS_HEARTBEAT_SECONDS": 1,
    }


@dataclass
class Outcome:
    killed_at: float = 0.0  # time.monotonic() of the SIGKILL
    promoted_after: float | None = None  # seconds after the kill
    api_codes: collections.Counter = field(default_factory=collections.Counter)
    api_bad: list = field(default_factory=list)  # answers that are neither 2xx nor 503 + Retry-After
    # (seconds after the kill, succeeded) of each login and each post
    events: dict = field(default_factory=lambda: {"login": [], "post": []})
    posted: list = field(default_factory=list)  # (message id, cursor) answered 201 or acked
    socket_errors: collections.Counter = field(default_factory=collections.Counter)  # error frame codes
    close_codes: collections.Counter = field(default_factory=collections.Counter)  # closes the server made
    handshake_failures: list = field(default_factory=list)
    received: dict = field(default_factory=dict)  # socket index -> [message id, ...] in arrival order
    resumed_after: dict = field(default_factory=dict)  # socket index -> seconds after the kill it was last ready again
    up: dict = field(default_factory=dict)  # socket index -> whether it is ready now
    closed_by_outage: set = field(default_factory=set)  # socket indexes that were closed at least once
    jobs: dict = field(default_factory=dict)  # "running" / "after" -> final status
    job_after_submitted_after: float | None = None
    logs: str = ""
    worker_log: str = ""

    def since_kill(self) -> float:
        return time.monotonic() - self.killed_at

    def recovered_after(self, kind: str) -> float | None:
        """Seconds after the kill of the first success that no failure
        followed: when logins (or posts) worked again for good."""
        events = self.events[kind]
        failures = [t for t, ok in events if not ok]
        last_failure = max(failures, default=0.0)
        return next((t for t, ok in events if ok and t >= last_failure), None)

    def sockets_back_after(self) -> float:
        """Seconds after the kill until the last closed socket was ready again (0: none closed)."""
        return max((self.resumed_after[i] for i in self.closed_by_outage), default=0.0)


class _Scenario:
    def __init__(self, *, cluster, bases, rid, cookies, tokens, job_token, job_bodies, outcome: Outcome):
        self.cluster, self.bases, self.rid = cluster, bases, rid
        self.cookies, self.tokens, self.job_token = cookies, tokens, job_token
        self.job_bodies, self.out = job_bodies, outcome
        self.stop = asyncio.Event()  # the listeners
        self.stop_posting = asyncio.Event()
        self.killed = asyncio.Event()
        self.login_name = ""

    # ------------------------------------------------------------------ sockets

    async def listener(self, index: int) -> None:
        """One client socket: ready, resume from its last cursor, record
        every message.new; when the server closes it, connect again."""
        url = ws_url(self.bases[index % 2])
        cookie = self.cookies[index % len(self.cookies)]
        received = self.out.received.setdefault(index, [])
        cursor = None
        first = True
        while not self.stop.is_set():
            try:
                async with Socket(url, cookie) as sock:
                    if not await self._ready(sock):
                        await asyncio.sleep(0.2)
                        continue
                    if first:
                        cursor = next(r["cursor"] for r in sock.of("ready")[0]["rooms"] if r["id"] == self.rid)
                        first = False
                    elif self.killed.is_set():
                        self.out.resumed_after[index] = self.out.since_kill()
                    self.out.up[index] = True
                    await sock.send({"type": "resume", "rooms": {self.rid: cursor}})
                    seen = 0
                    while not self.stop.is_set():
                        for frame in sock.frames[seen:]:
                            if frame["type"] == "message.new" and frame["message"]["room_id"] == self.rid:
                                received.append(frame["message"]["id"])
                                cursor = frame["message"]["cursor"]
                            elif frame["type"] == "error":
                                self.out.socket_errors[frame["code"]] += 1
                        seen = len(sock.frames)
                        if sock.close_code is not None:
                            self.out.up[index] = False
                            self.out.close_codes[sock.close_code] += 1
                            self.out.closed_by_outage.add(index)
                            break
                        await self._next_frame(sock)
            except (OSError, InvalidHandshake, InvalidStatus) as exc:
                self.out.handshake_failures.append(repr(exc))
                await asyncio.sleep(0.2)

    async def _ready(self, sock: Socket) -> bool:
        deadline = time.monotonic() + 10
        while not sock.of("ready") and sock.close_code is None and time.monotonic() < deadline:
            await self._next_frame(sock)
        if sock.of("ready"):
            return True
        if sock.close_code is not None:
            self.out.close_codes[sock.close_code] += 1
            for frame in sock.of("error"):
                self.out.socket_errors[frame["code"]] += 1
        return False

    @staticmethod
    async def _next_frame(sock: Socket, timeout: float = 0.2) -> None:
        sock.arrived.clear()
        try:
            await asyncio.wait_for(sock.arrived.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def socket_poster(self) -> None:
        """Posts with message.send; an acked message counts as posted."""
        n = 0
        while not self.stop_posting.is_set():
            try:
                async with Socket(ws_url(self.bases[1]), self.cookies[0]) as sock:
                    if not await self._ready(sock):
                        await asyncio.sleep(0.2)
                        continue
                    seen = 0
                    try:
                        while not self.stop_posting.is_set() and sock.close_code is None:
                            n += 1
                            await sock.send({"type": "message.send", "room_id": self.rid, "content": f"ws-{n}",
                                             "client_id": f"ws-{n}"})
                            await asyncio.sleep(0.15)
                            seen = self._answers(sock, seen)
                    except ConnectionClosed:
                        # The server closed it (1013) between the check and the
                        # send: count what it answered before, then connect again.
                        await asyncio.wait_for(sock.reader, 5)
                    self._answers(sock, seen)
                    if sock.close_code is not None:
                        self.out.close_codes[sock.close_code] += 1
            except (OSError, InvalidHandshake, InvalidStatus) as exc:
                self.out.handshake_failures.append(repr(exc))
                await asyncio.sleep(0.2)

    def _answers(self, sock: Socket, seen: int) -> int:
        """Record the acks and refusals among the poster's frames after
        ``seen``; returns how many frames are read now."""
        for frame in sock.frames[seen:]:
            if frame["type"] == "ack":
                self.out.posted.append((frame["message"]["id"], frame["message"]["cursor"]))
                self._event("post", True)
            elif frame["type"] == "error" and (frame.get("ref") or "").startswith("ws-"):
                self._event("post", False)
        return len(sock.frames)

    # ------------------------------------------------------------------ API

    def _answer(self, response: httpx.Response, ok: tuple[int, ...]) -> bool:
        self.out.api_codes[response.status_code] += 1
        if response.status_code in ok:
            return True
        if response.status_code == 503 and response.headers.get("Retry-After", "").isdigit():
            return False
        self.out.api_bad.append((response.request.method, response.request.url.path, response.status_code,
                                 dict(response.headers), response.text[:300]))
        return False

    def _event(self, kind: str, ok: bool) -> None:
        if self.killed.is_set():
            self.out.events[kind].append((self.out.since_kill(), ok))

    def _ok_since_promotion(self, kind: str) -> bool:
        promoted = self.out.promoted_after
        return promoted is not None and any(ok and t >= promoted for t, ok in self.out.events[kind])

    async def api_client(self) -> None:
        n = 0
        async with httpx.AsyncClient(timeout=20) as client:
            while not self.stop_posting.is_set():
                n += 1
                base = self.bases[n % 2]
                response = await client.post(
                    f"{base}/api/v1/rooms/{self.rid}/messages/", json={"content": f"api-{n}"},
                    headers={"Authorization": f"Token {self.tokens[n % len(self.tokens)]}"})
                ok = self._answer(response, (201,))
                self._event("post", ok)
                if ok:
                    body = response.json()
                    self.out.posted.append((body["id"], body["cursor"]))
                if n % 3 == 0:  # a login every 0.3 s: it needs Redis (the lockout fails closed)
                    login = await client.post(f"{base}/api/v1/auth/login",
                                              json={"login": self.login_name, "password": PASSWORD})
                    self._event("login", self._answer(login, (200,)))
                await asyncio.sleep(POST_INTERVAL)

    async def submit_job(self, body: dict) -> str:
        """POST /api/v1/jobs/ until it is taken (a 503 while Redis is away is retried)."""
        async with httpx.AsyncClient(timeout=20) as client:
            while True:
                response = await client.post(f"{self.bases[0]}/api/v1/jobs/", json=body,
                                             headers={"Authorization": f"Token {self.job_token}"})
                if self._answer(response, (201,)):
                    return response.json()["id"]
                await asyncio.sleep(0.2)

    # ------------------------------------------------------------------ the run

    async def run(self, job_status, room_messages) -> None:
        tasks = [asyncio.create_task(self.listener(i)) for i in range(SOCKETS)]
        posters = []
        try:
            # Every socket is ready (and has its room's cursor) before anything is posted.
            await self._until(lambda: len(self.out.up) == SOCKETS, 30, "the sockets did not connect")
            posters = [asyncio.create_task(self.socket_poster()), asyncio.create_task(self.api_client())]
            tasks += posters
            running = await self.submit_job(self.job_bodies[0])
            await self._until(lambda: job_status(running) == "running", 30, "the first job never ran")
            await self._until(lambda: len(self.out.received) == SOCKETS and all(self.out.received.values()), 30,
                              "the sockets did not get going")
            await asyncio.sleep(RUN_BEFORE_KILL)

            old = await asyncio.to_thread(self.cluster.kill_master)
            self.out.killed_at = time.monotonic()
            self.killed.set()
            await asyncio.to_thread(self.cluster.wait_for_promotion, old, RECOVERY_DEADLINE)
            self.out.promoted_after = self.out.since_kill()

            # Back: every socket is ready again, a login and a post succeeded.
            def recovered():
                return (len(self.out.up) == SOCKETS and all(self.out.up.values())
                        and self._ok_since_promotion("login") and self._ok_since_promotion("post"))

            await self._until(recovered, RECOVERY_DEADLINE, "the product did not recover")
            self.out.job_after_submitted_after = self.out.since_kill()
            after = await self.submit_job(self.job_bodies[1])
            await asyncio.sleep(RUN_AFTER_RECOVERY)
            self.stop_posting.set()
            await asyncio.gather(*posters)

            # Every socket catches up with everything stored, then a moment
            # more: a duplicate would show up now.
            def settled():
                stored = set(room_messages())
                return all(stored <= set(got) for got in self.out.received.values())

            try:
                await self._until(settled, 30, "the sockets did not get every stored message")
            except AssertionError:
                stored = await asyncio.to_thread(room_messages)
                missing = {i: [stored.index(m) for m in stored if m not in set(got)][:10]
                           for i, got in self.out.received.items()}
                raise AssertionError(f"missing (index in {len(stored)} stored): {missing}; up {self.out.up}; "
                                     f"closes {self.out.close_codes}; errors {self.out.socket_errors}") from None
            await asyncio.sleep(1.0)
            self.stop.set()
            await asyncio.gather(*tasks)
            for name, job_id in (("running", running), ("after", after)):
                await self._until(lambda: job_status(job_id) in ("completed", "failed", "cancelled"), 60,
                                  f"the {name} job did not finish")
                self.out.jobs[name] = await asyncio.to_thread(job_status, job_id)
        finally:
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _until(self, predicate, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(predicate):
            if time.monotonic() > deadline:
                raise AssertionError(message)
            await asyncio.sleep(0.1)


def _login(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"login": username, "password": PASSWORD}, timeout=20)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def run_failover(*, directory: Path, cookies: list[str], usernames: list[str], job_user: str, rid: str,
                 local_roots: str, job_bodies: list[dict], job_status, room_messages) -> Outcome:
    """The whole scenario in ``directory`` (logs, the cluster's files).
    ``job_status(id)`` reads a job's status from the database;
    ``room_messages()`` the ids of the scenario's stored messages, in order."""
    outcome = Outcome()
    run_dir = directory / "runs"
    run_dir.mkdir(parents=True, exist_ok=True)
    with SentinelCluster(directory / "redis") as cluster:
        env = server_env(cluster, local_roots, str(run_dir))
        worker = celery_worker(directory, "worker", **env)
        try:
            with asgi_servers(2, directory, **env) as bases:
                tokens = [_login(bases[i % 2], name) for i, name in enumerate(usernames)]
                job_token = _login(bases[0], job_user)
                scenario = _Scenario(cluster=cluster, bases=list(bases), rid=rid, cookies=cookies, tokens=tokens,
                                     job_token=job_token, job_bodies=job_bodies, outcome=outcome)
                scenario.login_name = usernames[0]
                asyncio.run(asyncio.wait_for(scenario.run(job_status, room_messages), 150))
                outcome.logs = "".join(p.read_text() for p in sorted(directory.glob("asgi-*.log")))
        finally:
            stop(worker)
        outcome.worker_log = (directory / "worker.log").read_text()
    return outcome


def make_tree(root: Path, files: int, size: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"f{i:02d}.bin").write_bytes(os.urandom(size))


USERS = 10  # two sockets each, one on each web process


def prepare(roots: Path, tag: str) -> dict:
    """The scenario's users, room, local remotes and jobs (in the database
    the caller is set up for); returns run_failover's keyword arguments
    except ``directory``. ``tag`` keeps names apart between runs."""
    from django.db import connection

    from accounts.services import user_create
    from chatroom.models import Message
    from chatroom.services import room_create, room_join
    from jobs import services as job_services
    from jobs.models import Job
    from tests.e2e.live_client import cookie

    users = [user_create(username=f"fo{tag}u{i}", password=PASSWORD, email=f"fo{tag}u{i}@example.com")
             for i in range(USERS)]
    power = user_create(username=f"fo{tag}power", password=PASSWORD, email=f"fo{tag}power@example.com",
                        role="power_user")
    room = room_create(owner=users[0], name=f"failover-{tag}")
    for user in users[1:]:
        room_join(user=user, room=room)
    # The running job: 3 MB at 300 KB/s, about 10 s, across the failover.
    make_tree(roots / f"{tag}src", 6, 512 * 1024)
    make_tree(roots / f"{tag}src_after", 3, 64 * 1024)
    for name in ("src", "dst", "src_after", "dst_after"):
        (roots / f"{tag}{name}").mkdir(parents=True, exist_ok=True)
        job_services.remote_create(actor=power, name=f"fo{tag}_{name}", type="local",
                                   options={"root": str(roots / f"{tag}{name}")})
    jobs = [
        {"type": "copy", "source": {"remote": f"fo{tag}_src", "path": "/"},
         "destination": {"remote": f"fo{tag}_dst", "path": "/"}, "options": {"bwlimit": "300K"}},
        {"type": "copy", "source": {"remote": f"fo{tag}_src_after", "path": "/"},
         "destination": {"remote": f"fo{tag}_dst_after", "path": "/"}},
    ]

    def job_status(job_id: str) -> str:
        try:
            return Job.objects.filter(id=job_id).values_list("status", flat=True).first()
        finally:
            connection.close()  # a thread of the scenario's event loop

    def room_messages() -> list[str]:
        """The scenario's messages in stored (cursor) order."""
        try:
            rows = Message.objects.filter(room=room, message_type="text").values_list("id", "created_at")
            return [str(i) for i, _ in sorted(rows, key=lambda r: (r[1], r[0]))]
        finally:
            connection.close()

    return {"cookies": [cookie(u) for u in users], "usernames": [u.username for u in users],
            "job_user": power.username, "rid": str(room.id), "local_roots": str(roots), "job_bodies": jobs,
            "job_status": job_status, "room_messages": room_messages}
