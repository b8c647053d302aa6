"""Live chat fan-out benchmark: N WebSocket clients in M rooms across two
uvicorn processes sharing the Redis channel layer, with senders at a set rate.

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--rooms 50] [--rate 200] [--seconds 20] [--servers 2]

A scratch database (on DATABASE_URL's server, or the embedded PostgreSQL) is
created and migrated, and gets the users, rooms and memberships; Redis is
REDIS_URL's (or the embedded one) under a key prefix of its own. Clients are
spread round-robin over the server processes; every second the senders post
``rate`` messages with ``message.send`` from random members of random rooms
(the full path: services, audit entry, broadcast on commit). Prints:

- delivered messages per second (one message reaching one member's socket);
- end-to-end latency, send to receipt, p50 / p95 / p99;
- lost and duplicated deliveries (every member of the room, the sender
  included, must get each acknowledged message exactly once);
- memory per connection (the servers' RSS growth over their connections).

In the same run, the raw baseline: for each message a PostgreSQL INSERT then
a Redis PUBLISH to the room's channel, with the same clients as Redis
subscribers, at the same rate. Targets: no loss, p99 under 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import sys
import time
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
    parser.add_argument("--seconds", type=float, default=20, help="measured sending time")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--logs", help="keep the server processes' logs in this directory")
    parser.add_argument("--settle", type=float, default=10,
                        help="seconds to wait after connecting (the servers send everyone's presence)")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # ~3 descriptors per client across the processes
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING",
                      REDIS_KEY_PREFIX=f"bench-ws-{os.getpid()}")
    with created_scratch_database(f"teamhub_bench_ws_{os.getpid()}") as url:
        import django

        django.setup()
        return run(args, url)


def setup_data(args) -> tuple[list[dict], dict]:
    """Users with a session cookie each, and rooms of clients/rooms members."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command
    from accounts.selectors import session_store
    from accounts.services import user_create
    from chatroom.models import RoomMember
    from chatroom.services import room_create

    call_command("migrate", verbosity=0)
    store = session_store()
    clients = []
    t0 = time.perf_counter()
    for i in range(args.clients):
        user = user_create(username=f"fan{i}", email=f"fan{i}@example.com", password=None)
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        clients.append({"i": i, "user": user, "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
                        "room": None})
    rooms = {}
    per_room = max(1, args.clients // args.rooms)
    for r in range(args.rooms):
        members = clients[r * per_room:(r + 1) * per_room] if r < args.rooms - 1 else clients[r * per_room:]
        room = room_create(owner=members[0]["user"], name=f"fan-room-{r}", max_members=100_000)
        RoomMember.objects.bulk_create([RoomMember(room=room, user=c["user"]) for c in members[1:]])
        rooms[str(room.id)] = [c["i"] for c in members]
        for c in members:
            c["room"] = str(room.id)
    print(f"setup: {args.clients} users with sessions, {args.rooms} rooms of ~{per_room} "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)
    return clients, rooms


def rss_mb(pids) -> float:
    import psutil

    total = 0
    for pid in pids:
        proc = psutil.Process(pid)
        total += proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    return total / 2**20


class Tally:
    """Send times, and how many times each message reached each client."""

    def __init__(self):
        self.sent: dict[str, float] = {}
        self.acked: dict[str, str] = {}  # seq -> room
        self.errors: list[str] = []
        self.got: dict[tuple[str, int], int] = {}
        self.latencies: list[float] = []
        self.measuring = False
        self.measured: set[str] = set()

    def receive(self, seq: str, client: int) -> None:
        key = (seq, client)
        self.got[key] = self.got.get(key, 0) + 1
        if self.got[key] == 1 and seq in self.measured:
            self.latencies.append((time.perf_counter() - self.sent[seq]) * 1000)

    def report(self, title: str, rooms: dict, seconds: float) -> dict:
        expected = {(seq, c) for seq in self.measured if seq in self.acked for c in rooms[self.acked[seq]]}
        delivered = sum(1 for key in expected if self.got.get(key, 0) >= 1)
        lost = len(expected) - delivered
        dup = sum(n - 1 for key, n in self.got.items() if n > 1 and key[0] in self.measured)
        lat = self.latencies
        out = {
            "messages": len([s for s in self.measured if s in self.acked]),
            "delivered_per_s": delivered / seconds,
            "p50": percentile(lat, 50) if lat else float("nan"),
            "p95": percentile(lat, 95) if lat else float("nan"),
            "p99": percentile(lat, 99) if lat else float("nan"),
            "lost": lost, "duplicated": dup, "errors": len(self.errors),
        }
        print(f"\n== {title} ==")
        print(f"  messages sent (measured)   {out['messages']:>10}")
        print(f"  deliveries expected        {len(expected):>10}")
        print(f"  delivered per second       {out['delivered_per_s']:>10.0f}")
        print(f"  latency p50 / p95 / p99    {out['p50']:>7.1f} / {out['p95']:.1f} / {out['p99']:.1f} ms")
        print(f"  lost / duplicated          {lost:>10} / {dup}")
        if self.errors:
            print(f"  send errors                {len(self.errors):>10}  e.g. {self.errors[:3]}")
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


async def pace(args, tally: Tally, send_one, rooms: dict) -> None:
    """Send at ``rate`` for warmup + seconds; only the measured window counts."""
    room_ids = list(rooms)
    interval = 1 / args.rate
    start = time.perf_counter()
    n = 0
    total = args.warmup + args.seconds
    while True:
        now = time.perf_counter()
        elapsed = now - start
        if elapsed >= total:
            return
        due = int(elapsed / interval)
        while n <= due:
            room = random.choice(room_ids)
            sender = random.choice(rooms[room])
            seq = f"{n}"
            tally.sent[seq] = time.perf_counter()
            if elapsed >= args.warmup:
                tally.measured.add(seq)
            await send_one(seq, room, sender)
            n += 1
        await asyncio.sleep(max(0.0, start + (n * interval) - time.perf_counter()))


async def socket_run(args, clients, rooms, urls) -> Tally:
    from websockets.asyncio.client import connect

    tally = Tally()
    sockets = [None] * len(clients)
    ready = asyncio.Event()
    ready_count = 0
    gate = asyncio.Semaphore(50)

    async def client(c):
        nonlocal ready_count
        base = urls[c["i"] % len(urls)]
        async with gate:
            ws = await connect(base.replace("http://", "ws://") + "/ws/", max_size=2**20, open_timeout=60,
                               additional_headers={"Cookie": c["cookie"], "Origin": base}, ping_interval=None)
        sockets[c["i"]] = ws
        async for text in ws:
            frame = json.loads(text)
            kind = frame["type"]
            if kind == "message.new":
                tally.receive(frame["message"]["content"], c["i"])
            elif kind == "ack":
                tally.acked[frame["client_id"]] = frame["message"]["room_id"]
            elif kind == "error":
                tally.errors.append(frame.get("code", "?"))
            elif kind == "ready":
                ready_count += 1
                if ready_count == len(clients):
                    ready.set()

    tasks = [asyncio.create_task(client(c)) for c in clients]
    t0 = time.perf_counter()
    await asyncio.wait_for(ready.wait(), 300)
    print(f"connected {len(clients)} sockets over {len(urls)} servers in {time.perf_counter() - t0:.1f} s", flush=True)
    return tally, sockets, tasks


async def measure_sockets(args, clients, rooms, urls, pids) -> dict:
    rss_before = rss_mb(pids)
    tally, sockets, tasks = await socket_run(args, clients, rooms, urls)
    await asyncio.sleep(args.settle)
    rss_after = rss_mb(pids)

    async def send_one(seq, room, sender):
        await sockets[sender].send(json.dumps({"type": "message.send", "room_id": room, "content": seq,
                                               "client_id": seq}))

    with collector_paused():
        await pace(args, tally, send_one, rooms)
        await asyncio.sleep(5)  # stragglers
    out = tally.report(f"WebSocket: {args.clients} clients, {args.rooms} rooms, {args.rate:.0f} msg/s, "
                       f"{len(urls)} server processes", rooms, args.seconds)
    per_conn = (rss_after - rss_before) * 1024 / len(clients)
    print(f"  server RSS                 {rss_before:.0f} MB idle -> {rss_after:.0f} MB connected "
          f"({per_conn:.1f} KB per connection)")
    out["kb_per_connection"] = per_conn
    for t in tasks:
        t.cancel()
    await asyncio.wait([asyncio.create_task(ws.close()) for ws in sockets], timeout=10)
    return out


async def measure_baseline(args, clients, rooms, db_url) -> dict:
    """INSERT into PostgreSQL, then PUBLISH to the room's Redis channel, which
    every member client subscribes to on a connection of its own."""
    import psycopg
    import redis.asyncio as aioredis
    from django.conf import settings

    tally = Tally()
    prefix = f"{settings.REDIS_KEY_PREFIX}:baseline:"
    redis_url = settings.REDIS_URL
    parsed = urlparse(db_url)
    pg = await psycopg.AsyncConnection.connect(
        host=parsed.hostname, port=parsed.port, user=parsed.username or "postgres", password=parsed.password,
        dbname=parsed.path.lstrip("/"), autocommit=True)
    await pg.execute("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, room uuid NOT NULL, "
                     "content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
    publisher = aioredis.Redis.from_url(redis_url)
    subscribed = 0
    all_in = asyncio.Event()

    async def subscriber(c):
        nonlocal subscribed
        conn = aioredis.Redis.from_url(redis_url)
        pubsub = conn.pubsub()
        await pubsub.subscribe(prefix + c["room"])
        subscribed += 1
        if subscribed == len(clients):
            all_in.set()
        async for message in pubsub.listen():
            if message["type"] == "message":
                tally.receive(json.loads(message["data"])["content"], c["i"])

    tasks = [asyncio.create_task(subscriber(c)) for c in clients]
    await asyncio.wait_for(all_in.wait(), 120)
    lock = asyncio.Lock()  # one connection, one statement at a time

    async def send_one(seq, room, sender):
        async def go():
            async with lock:
                await pg.execute("INSERT INTO bench_baseline (room, content) VALUES (%s, %s)", [room, seq])
            await publisher.publish(prefix + room, json.dumps({"room_id": room, "content": seq}))
            tally.acked[seq] = room
        asyncio.create_task(go())

    with collector_paused():
        await pace(args, tally, send_one, rooms)
        await asyncio.sleep(3)
    for t in tasks:
        t.cancel()
    await pg.close()
    return tally.report(f"Baseline: PostgreSQL INSERT + Redis PUBLISH, same {args.clients} receivers, "
                        f"{args.rate:.0f} msg/s", rooms, args.seconds)


def run(args, db_url: str) -> int:
    from tests.processes import asgi_servers

    clients, rooms = setup_data(args)
    import tempfile

    from django.db import connections

    connections.close_all()
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(args.logs or scratch)
        logs.mkdir(parents=True, exist_ok=True)
        with asgi_servers(args.servers, logs, CHAT_MESSAGE_RATE=0) as urls:
            import psutil

            pids = [p.pid for p in psutil.Process().children() if "uvicorn" in " ".join(p.cmdline())]
            sockets = asyncio.run(measure_sockets(args, clients, rooms, urls, pids))
    baseline = asyncio.run(measure_baseline(args, clients, rooms, db_url))
    print("\n== summary ==")
    print(f"  p99 {sockets['p99']:.1f} ms (target < 150; baseline {baseline['p99']:.1f} ms), "
          f"lost {sockets['lost']} (target 0), duplicated {sockets['duplicated']}, "
          f"{sockets['delivered_per_s']:.0f} deliveries/s (baseline {baseline['delivered_per_s']:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
