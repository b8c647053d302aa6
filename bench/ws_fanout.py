"""Live chat fan-out benchmark: N WebSocket clients in M rooms across
uvicorn processes sharing the Redis channel layer, with senders at a set rate.

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--rooms 50] [--servers 2]
        [--rate 200 | --rates 100,200,300,400] [--seconds 20] [--tree PATH]
        [--thread-share 0.1 --dm-share 0.1]

A scratch database (on DATABASE_URL's server, or the embedded PostgreSQL) is
created, migrated and filled with the users, rooms and memberships by the
code under test; Redis is REDIS_URL's (or the embedded one) under a key
prefix of its own. ``--tree`` serves another checkout's code (for a "before"
figure: ``git worktree add /tmp/before <commit>``, then ``--tree
/tmp/before``); the load generator, and so the way it counts, stays this one.

For each rate, fresh server processes and sockets: clients are spread
round-robin over the servers; every second the senders post ``rate``
messages with ``message.send`` from random members of random rooms (the full
path: services, audit entry, broadcast on commit). ``--thread-share`` and
``--dm-share`` send those shares of the messages as replies in a thread of
the room (one root per room; every member's socket gets them) and into DMs
(one per pair of neighbours in a room; both get them). A client that is told
``resume_required`` resumes from its last cursor, as the pages do. Then, at
the same rate, the raw baseline: for each message a PostgreSQL INSERT, then a
Redis PUBLISH to the room's channel, with the same number of receivers as
Redis subscribers. Printed per rate, and as a curve at the end:

- end-to-end latency, send to receipt, p50 / p95 / p99 (late deliveries,
  catch-ups from the database included), and the posting path's alone
  (send to the sender's ack);
- lost deliveries, counted exactly: every member of the room, the sender
  included, must get each acknowledged message. After sending stops, the
  bench waits until every message is answered and every delivery has
  arrived, or, once all are answered, none has for ``--quiet`` seconds (at
  most ``--drain``); what never arrived is lost. Duplicates are counted
  too, and messages never answered are shown apart;
- the servers' CPU while sending, and the servers' overload counters
  (``/readyz``'s ``channel_layer_overloads``, where the tree has them).

Targets (1,000 sockets, 2 server processes on a 2-core machine with the
load generator): p99 under 150 ms at 200 msg/s; at 300 msg/s nothing lost
and p99 within 2x the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import created_scratch_database, percentile  # noqa: E402

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200, help="messages per second, all senders together")
    parser.add_argument("--rates", help="comma-separated rates for a curve, e.g. 100,200,300,400 (overrides --rate)")
    parser.add_argument("--seconds", type=float, default=20, help="measured sending time per rate")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code the servers run")
    parser.add_argument("--drain", type=float, default=180,
                        help="most seconds to wait for late answers and deliveries")
    parser.add_argument("--quiet", type=float, default=10,
                        help="stop waiting for late deliveries after this long without one")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--thread-share", type=float, default=0.0, help="share of messages sent as thread replies")
    parser.add_argument("--dm-share", type=float, default=0.0, help="share of messages sent in DMs")
    parser.add_argument("--logs", help="keep the server processes' logs in this directory")
    parser.add_argument("--settle", type=float, default=10,
                        help="seconds to wait after connecting (the servers send everyone's presence)")
    args = parser.parse_args()
    args.tree = args.tree.resolve()
    rates = [float(r) for r in args.rates.split(",")] if args.rates else [args.rate]

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # ~3 descriptors per client across the processes
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING",
                      REDIS_KEY_PREFIX=f"bench-ws-{os.getpid()}")
    print(f"tree {args.tree} at {tree_version(args.tree)}; {os.cpu_count()} cores", flush=True)
    with created_scratch_database(f"teamhub_bench_ws_{os.getpid()}") as url:
        import django

        django.setup()
        clients, rooms, conversations = setup_data(args)
        results = []
        try:
            for rate in rates:
                results.append((rate, measure_sockets(args, rate, clients, rooms, conversations),
                                None if args.no_baseline
                                else asyncio.run(measure_baseline(args, rate, clients, rooms, conversations, url))))
        finally:
            drop_redis_keys()
    print_curve(args, results)
    return 0


def drop_redis_keys() -> None:
    """The run's keys (sessions' caches, presence, unread counts), under its own prefix."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*", count=1000):
        client.delete(key)
    client.close()


def tree_version(tree: Path) -> str:
    def git(*cmd):
        return subprocess.run(["git", "-C", str(tree), *cmd], capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


# --------------------------------------------------------------------------- data


class Conversations:
    """Where each message goes: a room, a thread of a room, or a DM."""

    def __init__(self, args, rooms: dict, data: dict):
        self.thread_share, self.dm_share = args.thread_share, args.dm_share
        self.room_ids = list(rooms)
        self.dms = data.get("dms", {})
        self.dm_ids = list(self.dms)
        self.roots = data.get("roots", {})

    @property
    def used(self) -> bool:
        return bool(self.thread_share or self.dm_share)

    def all_rooms(self, rooms: dict) -> dict:
        """Every room's members, DMs included (who must get what is sent there)."""
        return {**rooms, **self.dms}

    def pick(self) -> tuple[str, str | None]:
        """(room id, thread root id or None) for the next message."""
        draw = random.random()
        if draw < self.dm_share:
            return random.choice(self.dm_ids), None
        room = random.choice(self.room_ids)
        if draw < self.dm_share + self.thread_share:
            return room, self.roots[room]
        return room, None

    def label(self) -> str:
        if not self.used:
            return ""
        return f", {self.thread_share:.0%} in threads and {self.dm_share:.0%} in DMs"


def setup_data(args) -> tuple[list[dict], dict, Conversations]:
    """Migrate the scratch database and fill it, with the tree under test's
    own code (a child process run in that checkout): its migrations and
    services may differ from this one's."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "ws_fanout_setup.py"),
                           str(args.clients), str(args.rooms),
                           *(["--conversations"] if args.thread_share or args.dm_share else [])],
                          cwd=args.tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"setting up the data failed:\n{done.stdout}\n{done.stderr}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    conversations = Conversations(args, data["rooms"], data)
    print(f"setup: {args.clients} users with sessions, {args.rooms} rooms of ~{args.clients // args.rooms}, "
          f"{len(conversations.dm_ids)} DMs in {time.perf_counter() - t0:.1f} s", flush=True)
    return data["clients"], data["rooms"], conversations


# --------------------------------------------------------------------------- counting


class Tally:
    """Send times, and how many times each message reached each client."""

    def __init__(self, rooms: dict):
        self.rooms = rooms
        self.sent: dict[str, float] = {}
        self.acked: dict[str, str] = {}  # seq -> room
        self.ack_latencies: list[float] = []  # the posting path alone: send to the sender's ack
        self.errors: list[str] = []
        self.refused: set[str] = set()  # messages answered with an error
        self.resumes = 0
        self.closes: collections.Counter = collections.Counter()  # close code -> sockets the server closed
        self.got: dict[tuple[str, int], int] = {}
        # Client ids are "<seq>.<token>": every rate of a run numbers its
        # messages from 0 in the same rooms, and a client id sent again is
        # answered with the first message and broadcasts nothing, which
        # this bench once counted as lost deliveries.
        self.token = uuid.uuid4().hex[:8]
        self.order: dict[int, list[str]] = collections.defaultdict(list)  # client -> contents as received
        self.latencies: list[float] = []
        self.measured: set[str] = set()
        self.firsts = 0  # first receipts of measured messages
        self.last_activity = time.perf_counter()  # the last ack or first receipt

    def ack(self, seq: str, room: str) -> None:
        self.acked[seq] = room
        self.last_activity = time.perf_counter()
        if seq in self.measured:
            self.ack_latencies.append((time.perf_counter() - self.sent[seq]) * 1000)

    def receive(self, seq: str, client: int) -> None:
        key = (seq, client)
        self.order[client].append(seq)
        n = self.got.get(key, 0) + 1
        self.got[key] = n
        if n == 1 and seq in self.measured:
            now = time.perf_counter()
            self.latencies.append((now - self.sent[seq]) * 1000)
            self.firsts += 1
            self.last_activity = now

    def expected_count(self) -> int:
        return sum(len(self.rooms[room]) for seq, room in self.acked.items() if seq in self.measured)

    async def drain(self, args) -> float:
        """Wait for late answers and deliveries: until every message is
        answered (ack or error) and every delivery arrived, or, once all are
        answered, none has arrived for ``args.quiet`` seconds; at most
        ``args.drain``. Returns the wait."""
        start = time.perf_counter()
        self.last_activity = max(self.last_activity, start)
        while time.perf_counter() - start < args.drain:
            if len(self.acked) + len(self.refused) >= len(self.sent):
                if self.firsts >= self.expected_count():
                    break
                if time.perf_counter() - self.last_activity > args.quiet:
                    break
            await asyncio.sleep(0.2)
        return time.perf_counter() - start

    def report(self, title: str, seconds: float, drained: float) -> dict:
        expected = {(seq, c) for seq in self.measured if seq in self.acked for c in self.rooms[self.acked[seq]]}
        delivered = sum(1 for key in expected if self.got.get(key, 0) >= 1)
        lost = len(expected) - delivered
        dup = sum(n - 1 for key, n in self.got.items() if n > 1 and key[0] in self.measured)
        lat = self.latencies
        nan = float("nan")
        out = {
            "messages": len(self.measured), "acked": len([s for s in self.measured if s in self.acked]),
            "delivered_per_s": delivered / seconds, "expected": len(expected),
            "p50": percentile(lat, 50) if lat else nan, "p95": percentile(lat, 95) if lat else nan,
            "p99": percentile(lat, 99) if lat else nan, "max": max(lat) if lat else nan,
            "lost": lost, "duplicated": dup, "errors": len(self.errors), "resumes": self.resumes,
            "ack_p50": percentile(self.ack_latencies, 50) if self.ack_latencies else nan,
            "ack_p99": percentile(self.ack_latencies, 99) if self.ack_latencies else nan,
        }
        print(f"\n== {title} ==")
        unanswered = len([s for s in self.measured if s not in self.acked and s not in self.refused])
        print(f"  messages sent / acked      {out['messages']:>10} / {out['acked']}"
              + (f"  ({unanswered} never answered)" if unanswered else ""))
        print(f"  deliveries expected        {len(expected):>10}")
        print(f"  delivered per second       {out['delivered_per_s']:>10.0f}")
        print(f"  latency p50 / p95 / p99    {out['p50']:>7.1f} / {out['p95']:.1f} / {out['p99']:.1f} ms "
              f"(max {out['max']:.0f})")
        print(f"  ack p50 / p99 (posting)    {out['ack_p50']:>7.1f} / {out['ack_p99']:.1f} ms")
        print(f"  lost / duplicated          {lost:>10} / {dup}   (waited {drained:.1f} s for late ones)")
        if lost:
            missing = [key for key in expected if not self.got.get(key)]
            print(f"  lost: {len({seq for seq, _ in missing})} messages, {len({c for _, c in missing})} clients; "
                  f"e.g. (message, client) {sorted(missing)[:4]}")
            self.lost_examples = sorted(missing)[:3]
        if self.errors:
            print(f"  send errors                {len(self.errors):>10}  e.g. {self.errors[:3]}")
        if self.resumes:
            print(f"  resume_required answered   {self.resumes:>10}")
        if self.closes:
            print(f"  closed by the server       {sum(self.closes.values()):>10}  (by close code: "
                  f"{dict(self.closes)}; each reconnected and resumed)")
        return out


@contextlib.contextmanager
def collector_paused():
    """Keep this load generator's own garbage collector out of the figures.
    A full collection over its tallies (hundreds of thousands of entries)
    stalled its event loop for 87 ms in the middle of a run, which delayed
    every send and receipt in that window, so the servers looked slow. The
    tallies hold no reference cycles, so refcounting frees them anyway."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def pace(args, rate: float, tally: Tally, send_one, conversations: Conversations) -> None:
    """Send at ``rate`` for warmup + seconds; only the measured window counts."""
    rooms = tally.rooms
    interval = 1 / rate
    start = time.perf_counter()
    n = 0
    total = args.warmup + args.seconds
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= total:
            return
        due = int(elapsed / interval)
        while n <= due:
            room, thread = conversations.pick()
            seq = f"{n}"
            tally.sent[seq] = time.perf_counter()
            if elapsed >= args.warmup:
                tally.measured.add(seq)
            await send_one(seq, room, random.choice(rooms[room]), thread)
            n += 1
        await asyncio.sleep(max(0.0, start + (n * interval) - time.perf_counter()))


# --------------------------------------------------------------------------- the product


def server_stats(urls, pids) -> dict:
    """CPU seconds of the server processes, and their overload counters
    (None where the tree under test reports none)."""
    import psutil

    cpu = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)
    overloads = {}
    for base in urls:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
                body = json.load(response)
        except OSError as exc:  # 503 included: the counters ride on the body
            body = json.load(exc) if hasattr(exc, "read") else {}
        for key, value in (body.get("channel_layer_overloads") or {}).items():
            overloads[key] = overloads.get(key, 0) + value
    return {"cpu": cpu, "overloads": overloads or None}


async def connect_sockets(clients, urls, tally: Tally):
    """One socket per client, which acts as the pages do: it resumes a room
    it is told to (resume_required), and when the server closes it (1013
    while Redis does not answer, say) it reconnects and resumes every room
    from its cursors."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, WebSocketException

    sockets = [None] * len(clients)
    ready = asyncio.Event()
    ready_count = 0
    gate = asyncio.Semaphore(50)

    async def client(c):
        nonlocal ready_count
        base = urls[c["i"] % len(urls)]
        cursors = None  # room -> the newest cursor this client got, once ready
        while True:
            try:
                async with gate:
                    ws = await connect(base.replace("http://", "ws://") + "/ws/", max_size=2**20, open_timeout=120,
                                       additional_headers={"Cookie": c["cookie"], "Origin": base}, ping_interval=None)
            except (OSError, TimeoutError, WebSocketException):  # a busy server; try again, as the pages do
                tally.closes["handshake failed"] += 1
                await asyncio.sleep(1)
                continue
            sockets[c["i"]] = ws
            try:
                async for text in ws:
                    frame = json.loads(text)
                    kind = frame["type"]
                    if kind == "message.new":
                        message = frame["message"]
                        cursors[message["room_id"]] = message["cursor"]
                        tally.receive(message["content"], c["i"])
                    elif kind == "ack":
                        tally.ack(frame["client_id"].split(".")[0], frame["message"]["room_id"])
                    elif kind == "error" and frame.get("code") == "resume_required":
                        tally.resumes += 1
                        await ws.send(json.dumps({"type": "resume", "rooms": {frame["ref"]: cursors[frame["ref"]]}}))
                    elif kind == "error":
                        tally.errors.append(frame.get("code", "?"))
                        if frame.get("ref") in tally.sent:
                            tally.refused.add(frame["ref"])
                    elif kind == "ready" and cursors is None:
                        cursors = {r["id"]: r["cursor"] for r in frame["rooms"]}
                        ready_count += 1
                        if ready_count == len(clients):
                            ready.set()
                    elif kind == "ready":
                        await ws.send(json.dumps({"type": "resume", "rooms": dict(cursors)}))
            except ConnectionClosed:
                pass
            tally.closes[ws.close_code] += 1
            await asyncio.sleep(0.5)

    tasks = [asyncio.create_task(client(c)) for c in clients]
    t0 = time.perf_counter()
    await asyncio.wait_for(ready.wait(), 300)
    print(f"connected {len(clients)} sockets over {len(urls)} servers in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return sockets, tasks


async def socket_run(args, rate, clients, rooms, conversations, urls, pids) -> dict:
    import psutil
    from websockets.exceptions import ConnectionClosed

    def rss_mb() -> float:
        return sum(psutil.Process(p).memory_info().rss for p in pids) / 2**20

    tally = Tally(conversations.all_rooms(rooms))
    rss_before = rss_mb()
    sockets, tasks = await connect_sockets(clients, urls, tally)
    await asyncio.sleep(args.settle)
    rss_after = rss_mb()

    async def send_one(seq, room, sender, thread):
        frame = {"type": "message.send", "room_id": room, "content": seq, "client_id": f"{seq}.{tally.token}"}
        if thread is not None:
            frame["thread_id"] = thread
        try:
            await sockets[sender].send(json.dumps(frame))
        except ConnectionClosed:  # closed by the server; its client is reconnecting
            tally.errors.append("socket closed")
            tally.refused.add(seq)

    load = os.getloadavg()
    before = await asyncio.to_thread(server_stats, urls, pids)
    with collector_paused():
        await pace(args, rate, tally, send_one, conversations)
        sent_stats = await asyncio.to_thread(server_stats, urls, pids)
        drained = await tally.drain(args)
    after = await asyncio.to_thread(server_stats, urls, pids)
    out = tally.report(f"WebSocket: {args.clients} clients, {args.rooms} rooms, {rate:.0f} msg/s"
                       f"{conversations.label()}, {len(urls)} server processes", args.seconds, drained)
    for seq, client in getattr(tally, "lost_examples", []):
        await asyncio.to_thread(explain_loss, tally, seq, client)
    out["load"] = load
    out["mix"] = conversations.label()
    out["server_cpu"] = (sent_stats["cpu"] - before["cpu"]) / (args.warmup + args.seconds) / len(pids)
    if before["overloads"] is not None:
        out["overloads"] = {k: v - before["overloads"].get(k, 0) for k, v in after["overloads"].items()}
    per_conn = (rss_after - rss_before) * 1024 / len(clients)
    print(f"  server CPU while sending   {out['server_cpu'] * 100:>9.0f}% of a core each")
    print(f"  server overload counters   {out.get('overloads', 'not reported by this tree')}")
    print(f"  server RSS                 {rss_before:.0f} MB idle -> {rss_after:.0f} MB connected "
          f"({per_conn:.1f} KB per connection)")
    print(f"  load average at start      {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}", flush=True)
    for t in tasks:
        t.cancel()
    await asyncio.wait([asyncio.create_task(ws.close()) for ws in sockets], timeout=10)
    return out


def explain_loss(tally, seq: str, client: int) -> None:
    """Where a lost message sits: its neighbours in the room (the database's
    order) and what one member received around them, to tell a message
    that never came from one that came after its successor."""
    from django.db import connection

    with connection.cursor() as cursor:
        # The newest: every rate of a run posts its own 0, 1, 2, ... into the same rooms.
        cursor.execute("SELECT room_id, created_at, id FROM messages WHERE room_id = %s AND content = %s "
                       "ORDER BY created_at DESC LIMIT 1", [tally.acked[seq], seq])
        room_id, at, mid = cursor.fetchone()
        cursor.execute("(SELECT content, created_at FROM messages WHERE room_id = %s AND (created_at, id) < (%s, %s) "
                       "ORDER BY created_at DESC, id DESC LIMIT 2) UNION ALL (SELECT content, created_at FROM "
                       "messages WHERE room_id = %s AND (created_at, id) >= (%s, %s) ORDER BY created_at, id "
                       "LIMIT 3) ORDER BY 2", [room_id, at, mid, room_id, at, mid])
        around = [f"{c}@{t:%H:%M:%S.%f}" for c, t in cursor.fetchall()]
    received = tally.order[client]
    names = {a.split("@")[0] for a in around}
    seen = [(i, c) for i, c in enumerate(received) if c in names]
    rooms_of = {s: r for s, r in tally.acked.items()}
    seen = [(i, c) for i, c in seen if rooms_of.get(c) == str(room_id)]
    print(f"  lost {seq} (client {client}): database order {around}; client received, at its positions: {seen}")
    connection.close()


def measure_sockets(args, rate, clients, rooms, conversations) -> dict:
    import psutil
    from django.db import connections

    from tests.processes import asgi_servers

    connections.close_all()
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(args.logs or scratch) / f"rate-{rate:g}"
        logs.mkdir(parents=True, exist_ok=True)
        with asgi_servers(args.servers, logs, root=args.tree, CHAT_MESSAGE_RATE=0) as urls:
            pids = [p.pid for p in urls.procs]
            assert all("uvicorn" in " ".join(psutil.Process(p).cmdline()) for p in pids)
            return asyncio.run(socket_run(args, rate, clients, rooms, conversations, urls, pids))


# --------------------------------------------------------------------------- the baseline


async def measure_baseline(args, rate, clients, rooms, conversations, db_url) -> dict:
    """INSERT into PostgreSQL, then PUBLISH to the room's Redis channel, which
    every member client subscribes to on a connection of its own."""
    import psycopg
    import redis.asyncio as aioredis
    from django.conf import settings

    everywhere = conversations.all_rooms(rooms)
    tally = Tally(everywhere)
    channels_of = collections.defaultdict(list)  # client -> the rooms and DMs it is in
    for room, members in everywhere.items():
        for member in members:
            channels_of[member].append(room)
    prefix = f"{settings.REDIS_KEY_PREFIX}:baseline:"
    redis_url = settings.REDIS_URL
    parsed = urlparse(db_url)
    pg = await psycopg.AsyncConnection.connect(
        host=parsed.hostname, port=parsed.port, user=parsed.username or "postgres", password=parsed.password,
        dbname=parsed.path.lstrip("/"), autocommit=True)
    await pg.execute("CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, room uuid NOT NULL, "
                     "content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
    publisher = aioredis.Redis.from_url(redis_url)
    subscribed = 0
    all_in = asyncio.Event()
    gate = asyncio.Semaphore(50)  # a thousand connects at once time out on a busy machine

    async def subscriber(c):
        nonlocal subscribed
        conn = aioredis.Redis.from_url(redis_url, socket_connect_timeout=30)
        pubsub = conn.pubsub()
        async with gate:
            await pubsub.subscribe(*[prefix + room for room in channels_of[c["i"]]])
        subscribed += 1
        if subscribed == len(clients):
            all_in.set()
        try:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    tally.receive(json.loads(message["data"])["content"], c["i"])
        finally:
            await pubsub.aclose()
            await conn.aclose()

    tasks = [asyncio.create_task(subscriber(c)) for c in clients]
    await asyncio.wait_for(all_in.wait(), 120)
    lock = asyncio.Lock()  # one connection, one statement at a time

    async def send_one(seq, room, sender, thread):
        async def go():
            async with lock:
                await pg.execute("INSERT INTO bench_baseline (room, content) VALUES (%s, %s)", [room, seq])
            await publisher.publish(prefix + room, json.dumps({"room_id": room, "content": seq}))
            tally.ack(seq, room)
        asyncio.create_task(go())

    load = os.getloadavg()
    with collector_paused():
        await pace(args, rate, tally, send_one, conversations)
        drained = await tally.drain(args)
    for t in tasks:
        t.cancel()
    await asyncio.wait(tasks, timeout=10)
    await publisher.aclose()
    await pg.close()
    out = tally.report(f"Baseline: PostgreSQL INSERT + Redis PUBLISH, same {args.clients} receivers, "
                       f"{rate:.0f} msg/s", args.seconds, drained)
    out["load"] = load
    print(f"  load average at start      {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}", flush=True)
    return out


def print_curve(args, results) -> None:
    print(f"\n== curve: {args.clients} sockets, {args.rooms} rooms{results[0][1].get('mix', '')}, {args.servers} server processes, "
          f"tree {args.tree} at {tree_version(args.tree)} ==")
    print(f"{'rate':>6} | {'p50':>8} {'p95':>8} {'p99':>8} {'lost':>7} {'dup':>5} {'cpu':>5} {'behind':>6} | "
          f"{'base p50':>8} {'p95':>7} {'p99':>7} {'lost':>5} | load")
    for rate, s, b in results:
        behind = (s.get("overloads") or {}).get("behind", "-")
        base = (f"{b['p50']:>8.0f} {b['p95']:>7.0f} {b['p99']:>7.0f} {b['lost']:>5}" if b else f"{'-':>8} "
                f"{'-':>7} {'-':>7} {'-':>5}")
        print(f"{rate:>6.0f} | {s['p50']:>8.0f} {s['p95']:>8.0f} {s['p99']:>8.0f} {s['lost']:>7} "
              f"{s['duplicated']:>5} {s['server_cpu'] * 100:>4.0f}% {behind!s:>6} | {base} | {s['load'][0]:.1f}")
    print("(latencies in ms; cpu: each server process's share of a core while sending; behind: sockets the "
          "servers sent to the database to catch up; load: the 1-minute load average when the rate started)")


if __name__ == "__main__":
    sys.exit(main())
