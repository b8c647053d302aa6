"""History reads from the primary against reads from a streaming replica,
under a write load (issue 21).

    .venv/bin/python bench/history_replica.py [--messages 1000000] [--rate 200] [--seconds 30] [--readers 4]

A throwaway primary and hot standby from the pgserver wheel
(tests/pg_cluster.py, no system PostgreSQL): the primary is migrated, given
24 monthly partitions and loaded with ``--messages`` messages as
bench/history.py loads them (10% in the room the pages are read from), then
the standby is made from it and catches up. Two uvicorn processes serve the
same primary: one with DATABASE_REPLICA_URLS set to the standby, one
without. While a writer INSERTs ``--rate`` messages a second into the read
room on the primary (rows as the product writes them, through SQL: the
load is the database's, not the web processes'), ``--readers`` clients
read pages through the API, each request going to the two processes in
turn (interleaved, so both see the same moment): the newest page, and the
page around a message six months back. The reader never writes, so it is
never pinned to the primary.

Prints p50 / p95 / p99 per page and per source, the writes achieved, and the
replica's lag seen on /readyz while reading.

A smoke run (seconds, not a measurement):
    bench/history_replica.py --messages 20000 --rate 50 --seconds 5 --readers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402

PASSWORD = "bench-password-not-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages loaded before measuring")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200, help="messages written per second while reading")
    parser.add_argument("--seconds", type=float, default=30, help="measured reading time")
    parser.add_argument("--readers", type=int, default=4, help="concurrent reading clients")
    args = parser.parse_args()
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING",
                      REDIS_KEY_PREFIX=f"bench-hr-{os.getpid()}")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

    from tests.pg_cluster import Cluster

    cluster = Cluster()
    try:
        t0 = time.perf_counter()
        primary = cluster.migrated_primary(dict(os.environ))
        os.environ["DATABASE_URL"] = primary.url()
        import django

        django.setup()
        people = prepare(args)
        print(f"primary ready with {args.messages:,} messages in {time.perf_counter() - t0:.0f} s", flush=True)
        t1 = time.perf_counter()
        standby = cluster.add_standby()
        cluster.wait_replayed(standby, timeout=600)
        print(f"standby streaming and caught up in {time.perf_counter() - t1:.0f} s", flush=True)
        from django.db import connections

        connections.close_all()
        results = serve_and_measure(args, primary, standby, people)
    finally:
        cluster.close()
    report(args, results)
    return 0


def prepare(args) -> dict:
    from django.db import connection

    from accounts.services import user_create
    from bench import history
    from chatroom.models import RoomMember
    from chatroom.services import room_create

    first_month, now = history.create_months()
    authors = [user_create(username=f"author{i}", email=f"a{i}@example.com", password=None) for i in range(10)]
    reader = user_create(username="bench-reader", email="reader@example.com", password=PASSWORD)
    rooms = [room_create(owner=authors[i % 10], name=f"bench-room-{i}") for i in range(args.rooms)]
    RoomMember.objects.bulk_create([RoomMember(room=r, user=reader) for r in rooms[:10]])
    history.load(connection, args.messages, rooms, authors, first_month, now)
    hot = rooms[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM messages WHERE room_id = %s AND thread_id IS NULL "
                       "AND created_at < now() - interval '6 months' ORDER BY created_at DESC LIMIT 1", [hot.id])
        older = cursor.fetchone()
    return {"room": str(hot.id), "older": str(older[0]) if older else None, "authors": [str(a.id) for a in authors]}


def serve_and_measure(args, primary, standby, people) -> dict:
    import httpx

    from tests.processes import asgi_servers

    common = {"API_RATE_LIMIT_PER_MINUTE": 10**7, "LOGIN_FAILURE_LIMIT_PER_IP": 10**6, "REPLICA_CHECK_SECONDS": 0.5}
    with tempfile.TemporaryDirectory() as logs:
        log_dir = Path(logs)
        (log_dir / "replica").mkdir()
        (log_dir / "primary").mkdir()
        with asgi_servers(1, log_dir / "replica", DATABASE_REPLICA_URLS=standby.url(), **common) as via_replica, \
                asgi_servers(1, log_dir / "primary", **common) as via_primary:
            bases = {"replica": via_replica[0], "primary": via_primary[0]}
            login = httpx.post(bases["primary"] + "/api/v1/auth/login",
                               json={"login": "bench-reader", "password": PASSWORD}, timeout=30)
            login.raise_for_status()
            token = login.json()["token"]
            before = _transactions(standby)
            results = asyncio.run(measure(args, primary, bases, token, people))
            # Proof the replica served: transactions run on the standby while reading.
            results["standby_transactions"] = _transactions(standby) - before
            return results


def _transactions(node) -> int:
    return int(node.sql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'teamhub'")[0][0])


async def measure(args, primary, bases: dict, token: str, people: dict) -> dict:
    import httpx
    import psycopg

    room = people["room"]
    pages = {"newest": {}}
    if people["older"]:
        pages["6 months back"] = {"around": people["older"]}
    latencies: dict[tuple[str, str], list[float]] = {(s, p): [] for s in bases for p in pages}
    errors: list[str] = []
    lags: list[float] = []
    written = 0
    stop = asyncio.Event()

    async def writer():
        nonlocal written
        async with await psycopg.AsyncConnection.connect(primary.url(), autocommit=True) as conn:
            start, n = time.perf_counter(), 0
            while not stop.is_set():
                n += 1
                await conn.execute(
                    "INSERT INTO messages (id, created_at, room_id, user_id, content, message_type, is_edited, "
                    "is_deleted, is_pinned, metadata, updated_at) VALUES (%s, now(), %s, %s, %s, 'text', false, "
                    "false, false, '{}', now())",
                    [uuid.uuid4(), room, random.choice(people["authors"]), f"written under load {n}"])
                written += 1
                await asyncio.sleep(max(0.0, start + n / args.rate - time.perf_counter()))

    async def reader(client: httpx.AsyncClient, index: int):
        turn = index
        while not stop.is_set():
            for page, params in pages.items():
                for source in (("replica", "primary") if turn % 2 else ("primary", "replica")):
                    t = time.perf_counter()
                    response = await client.get(f"{bases[source]}/api/v1/rooms/{room}/messages/", params=params)
                    elapsed = (time.perf_counter() - t) * 1000
                    if response.status_code == 200:
                        latencies[source, page].append(elapsed)
                    else:
                        errors.append(f"{source} {page}: {response.status_code}")
            turn += 1

    async def lag_watch(client: httpx.AsyncClient):
        while not stop.is_set():
            body = (await client.get(bases["replica"] + "/readyz")).json()
            for state in (body.get("replicas") or {}).values():
                if state.get("lag_seconds") is not None:
                    lags.append(state["lag_seconds"])
            await asyncio.sleep(0.5)

    headers = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        tasks = [asyncio.create_task(writer()), asyncio.create_task(lag_watch(client))]
        await asyncio.sleep(2)  # the writer under way, and the replica watcher's first checks
        for values in latencies.values():
            values.clear()
        started = time.perf_counter()
        written_before = written
        tasks += [asyncio.create_task(reader(client, i)) for i in range(args.readers)]
        await asyncio.sleep(args.seconds)
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "lags": lags,
            "write_rate": (written - written_before) / elapsed, "load": os.getloadavg()}


def report(args, results: dict) -> None:
    print(f"\n== history reads under {args.rate:g} msg/s of writes: {args.messages:,} messages, "
          f"{args.readers} readers, {args.seconds:g} s; {os.cpu_count()} cores ==")
    print(f"{'page':<15} {'source':<8} | {'reads':>6} {'p50':>7} {'p95':>7} {'p99':>7}")
    for (source, page), values in sorted(results["latencies"].items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if values:
            print(f"{page:<15} {source:<8} | {len(values):>6} {percentile(values, 50):>7.1f} "
                  f"{percentile(values, 95):>7.1f} {percentile(values, 99):>7.1f}")
    lags = results["lags"]
    print(f"writes achieved: {results['write_rate']:.0f} msg/s; replica lag on /readyz: "
          + (f"median {percentile(lags, 50):.2f} s, max {max(lags):.2f} s" if lags else "never reported"))
    reads = len(results["latencies"].get(("replica", "newest"), [])) + len(
        results["latencies"].get(("replica", "6 months back"), []))
    print(f"transactions on the standby while reading: {results['standby_transactions']} "
          f"(for {reads} replica-side reads, plus the health watcher's checks)")
    print(f"errors: {len(results['errors'])} {results['errors'][:5]}; load average at the end "
          f"{results['load'][0]:.1f}")
    print("(ms, the API's page as a client sees it; both processes read the same data at the same moments)")


if __name__ == "__main__":
    sys.exit(main())
