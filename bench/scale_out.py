"""Scale-out fan-out benchmark (issue 21): the WebSocket fan-out of
bench/ws_fanout.py measured in one run over a grid of socket counts and
web process counts, so the figures compare on the same machine and load:

- 2 web processes against 4 (``--servers 2,4``);
- how p99 changes as sockets grow (``--sizes 1000,2000,5000``).

    .venv/bin/python bench/scale_out.py [--sizes 1000,2000,5000] [--servers 2,4] [--rate 200]
        [--rooms 50] [--seconds 20] [--tree PATH]

For each size, a scratch database (on DATABASE_URL's server, or the embedded
PostgreSQL) is filled with that many users with sessions in ``--rooms``
rooms (room size grows with the sockets, as with ws_fanout's --clients),
then each server count gets fresh uvicorn processes and fresh sockets, and
the senders post ``--rate`` messages per second with ``message.send``.
Each cell prints ws_fanout's full report; the grid comes at the end, with
each size's 4-process p99 over its 2-process p99.

A smoke run (seconds, not a measurement):
    bench/scale_out.py --sizes 100,200 --servers 2,4 --rate 20 --seconds 3 --warmup 1 --settle 1 --quiet 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ws_fanout  # noqa: E402
from bench.common import created_scratch_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2000,5000", help="socket counts, comma-separated")
    parser.add_argument("--servers", default="2,4", help="web process counts, comma-separated")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200, help="messages per second, all senders together")
    parser.add_argument("--seconds", type=float, default=20, help="measured sending time per cell")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--settle", type=float, default=10,
                        help="seconds to wait after connecting (the servers send everyone's presence)")
    parser.add_argument("--drain", type=float, default=180, help="most seconds to wait for late deliveries")
    parser.add_argument("--quiet", type=float, default=10,
                        help="stop waiting for late deliveries after this long without one")
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code the servers run")
    parser.add_argument("--logs", help="keep the web processes' logs under this directory")
    args = parser.parse_args()
    args.tree = args.tree.resolve()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    server_counts = [int(s) for s in args.servers.split(",") if s.strip()]
    # What ws_fanout's functions read from its own arguments.
    args.thread_share = args.dm_share = 0.0
    args.no_baseline, args.rates = True, None

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # ~3 descriptors per socket across the processes
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING",
                      REDIS_KEY_PREFIX=f"bench-scale-{os.getpid()}")
    print(f"tree {args.tree} at {ws_fanout.tree_version(args.tree)}; {os.cpu_count()} cores; "
          f"{args.rate:g} msg/s; sizes {sizes}; web processes {server_counts}", flush=True)
    grid: dict[tuple[int, int], dict] = {}
    for size in sizes:
        with created_scratch_database(f"teamhub_bench_scale_{os.getpid()}_{size}") as url:
            import django

            django.setup()  # once; the servers get each size's database by URL (child_env's override)
            args.clients = size
            try:
                clients, rooms, conversations = ws_fanout.setup_data(args)
                for servers in server_counts:
                    args.servers = servers
                    print(f"\n######## {size} sockets, {servers} web processes", flush=True)
                    grid[size, servers] = measure(args, url, clients, rooms, conversations)
            finally:
                ws_fanout.drop_redis_keys()
    print_grid(args, sizes, server_counts, grid)
    return 0


def measure(args, url: str, clients, rooms, conversations) -> dict:
    import psutil
    from django.db import connections

    from tests.processes import asgi_servers

    connections.close_all()
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(args.logs or scratch) / f"{args.clients}-sockets-{args.servers}-procs"
        logs.mkdir(parents=True, exist_ok=True)
        with asgi_servers(args.servers, logs, root=args.tree, CHAT_MESSAGE_RATE=0, DATABASE_URL=url) as urls:
            pids = [p.pid for p in urls.procs]
            assert all("uvicorn" in " ".join(psutil.Process(p).cmdline()) for p in pids)
            return asyncio.run(ws_fanout.socket_run(args, args.rate, clients, rooms, conversations, urls, pids))


def print_grid(args, sizes, server_counts, grid) -> None:
    print(f"\n== fan-out grid: {args.rate:g} msg/s, {args.rooms} rooms, tree {args.tree} at "
          f"{ws_fanout.tree_version(args.tree)} ==")
    print(f"{'sockets':>7} {'procs':>5} | {'p50':>7} {'p95':>7} {'p99':>7} {'lost':>6} {'dup':>4} {'cpu':>5} "
          f"{'deliv/s':>8} | load")
    for size in sizes:
        for servers in server_counts:
            s = grid[size, servers]
            print(f"{size:>7} {servers:>5} | {s['p50']:>7.0f} {s['p95']:>7.0f} {s['p99']:>7.0f} {s['lost']:>6} "
                  f"{s['duplicated']:>4} {s['server_cpu'] * 100:>4.0f}% {s['delivered_per_s']:>8.0f} | "
                  f"{s['load'][0]:.1f}")
    if len(server_counts) >= 2:
        low, high = min(server_counts), max(server_counts)
        print(f"\np99 with {high} web processes over p99 with {low}, per size (below 1: more processes helped):")
        for size in sizes:
            a, b = grid[size, low]["p99"], grid[size, high]["p99"]
            print(f"  {size:>7} sockets: {b:.0f} / {a:.0f} ms = {b / a if a else float('nan'):.2f}x")
    if len(sizes) >= 2:
        print("\np99 as sockets grow, per process count:")
        for servers in server_counts:
            print(f"  {servers} processes: " + " -> ".join(f"{grid[size, servers]['p99']:.0f} ms @ {size}"
                                                          for size in sizes))
    print("(latencies in ms, send to receipt; cpu: each web process's share of a core while sending; "
          "load: the 1-minute load average when the cell started)")


if __name__ == "__main__":
    sys.exit(main())
