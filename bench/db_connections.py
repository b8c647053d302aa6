"""Database connections held by uvicorn processes under API load, with the
connection pool and without it.

    .venv/bin/python bench/db_connections.py [--servers 2] [--rates 5,20,50] [--seconds 10] [--modes pool,nopool]

A scratch database (on DATABASE_URL's server, or the embedded PostgreSQL) is
created, migrated and given a user with a device token and a room. For each
mode, ``--servers`` uvicorn processes are started (``pool``: the defaults,
DB_POOL_MAX_SIZE; ``nopool``: DB_POOL_MAX_SIZE=0 with DB_CONN_MAX_AGE=60, the
old default), and at each rate the API gets requests for ``--seconds``
(half of them chat posts, spread over the processes). Prints, per process,
the most backends it held at once (pg_stat_activity by application_name,
sampled every 0.1 s) and how many it still held 2 s after the load, with
the answers' status counts and latency p50/p99.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import created_scratch_database, percentile, pg_connect  # noqa: E402

MODES = {
    "pool": {},
    "nopool": {"DB_POOL_MAX_SIZE": 0, "DB_CONN_MAX_AGE": 60},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--rates", default="5,20,50", help="requests per second, all processes together")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--modes", default="nopool,pool")
    args = parser.parse_args()

    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING",
                      REDIS_KEY_PREFIX=f"bench-dbconn-{os.getpid()}")
    with created_scratch_database(f"teamhub_bench_dbconn_{os.getpid()}") as url:
        import django

        django.setup()
        return run(args, url)


def run(args, url: str) -> int:
    from django.core.management import call_command
    from django.db import connections

    from accounts.services import api_login, user_create
    from chatroom.services import room_create
    from tests.dbload import BackendSampler, backends, chat_load
    from tests.processes import asgi_servers

    call_command("migrate", verbosity=0)
    user = user_create(username="loader", email="loader@example.com", password=None)
    _, token = api_login(user=user, device_name="bench")
    room = room_create(owner=user, name="load")
    connections.close_all()

    rates = [float(r) for r in args.rates.split(",")]
    for mode in args.modes.split(","):
        prefix = f"bench-dbconn-{os.getpid()}-{mode}"
        names = [f"{prefix}-{i}" for i in range(args.servers)]
        with tempfile.TemporaryDirectory() as logs, asgi_servers(
            args.servers, Path(logs), application_name=prefix, CHAT_MESSAGE_RATE=0,
            API_RATE_LIMIT_PER_MINUTE=1_000_000, **MODES[mode],
        ) as urls, pg_connect(url) as conn:
            print(f"\n== {mode} ({', '.join(f'{k}={v}' for k, v in MODES[mode].items()) or 'defaults'}), "
                  f"{args.servers} processes; idle before load: {sum(backends(conn, names).values())} backends")
            for rate in rates:
                with BackendSampler(lambda: pg_connect(url), names) as sampler:
                    result = chat_load(urls, token, room.id, count=int(rate * args.seconds), rate=rate,
                                       concurrency=max(8, int(rate // 2)))
                time.sleep(2)
                after = backends(conn, names)
                statuses = dict(collections.Counter(result.statuses))
                lat = [x * 1000 for x in result.latencies]
                print(f"  {rate:5.0f} req/s: peak backends per process {[sampler.peak[n] for n in names]}, "
                      f"2 s after {[after[n] for n in names]}; answers {statuses}; "
                      f"p50 {percentile(lat, 50):.0f} ms, p99 {percentile(lat, 99):.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
