"""Benchmark: recovery from a Redis Sentinel failover under load.

Each run is the failover scenario of tests/scale/test_sentinel_failover.py
(tests/scale/sentinel_scenario.py): a master, a replica and three sentinels
(down-after-milliseconds 1000), two uvicorn web processes, a Celery worker
with a running rclone copy, 20 sockets, a socket and an API client posting,
then SIGKILL of the master. It prints, in seconds after the kill:

- promoted: every sentinel names the replica as master, and it says it is one;
- sockets back: the last socket the outage closed is ready again (and resumes);
- login 200: logins (which need Redis: the lockout fails closed) answer 200 for good;
- post 2xx: message posts answer 2xx for good (they fail open, so usually at once);

and the median and worst over ``--runs`` runs (default 3), each on a new
cluster. A scratch database (teamhub_bench_sentinel_<pid>) is created and
dropped. About 30 s a run.

    .venv/bin/python bench/sentinel_failover.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("REDIS_KEY_PREFIX", f"bench-sentinel-{os.getpid()}")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.common import created_scratch_database  # noqa: E402

FIGURES = ("promoted", "sockets back", "login 200", "post 2xx")


def one_run(directory: Path, tag: str) -> dict[str, float]:
    from django.conf import settings

    from tests.scale.sentinel_scenario import prepare, run_failover

    roots = directory / "allowed"
    settings.RCLONE_LOCAL_ROOTS = [str(roots)]  # remote_create checks the roots in this process
    out = run_failover(directory=directory / "run", **prepare(roots, tag))
    bad = [f"API {out.api_bad[:1]}" if out.api_bad else "", f"closes {dict(out.close_codes)}"
           if set(out.close_codes) - {1013} else "", f"jobs {out.jobs}"
           if out.jobs != {"running": "completed", "after": "completed"} else ""]
    if any(bad):
        raise SystemExit(f"run {tag} went wrong: {' '.join(b for b in bad if b)}")
    return {"promoted": out.promoted_after, "sockets back": out.sockets_back_after(),
            "login 200": out.recovered_after("login"), "post 2xx": out.recovered_after("post"),
            "_closed": len(out.closed_by_outage), "_503": out.api_codes.get(503, 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with created_scratch_database(f"teamhub_bench_sentinel_{os.getpid()}"):
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        results = []
        for n in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="teamhub-bench-sentinel-") as directory:
                figures = one_run(Path(directory), f"r{n}")
            results.append(figures)
            print(f"run {n + 1}: " + ", ".join(f"{k} {figures[k]:.2f} s" for k in FIGURES)
                  + f" ({figures['_closed']} sockets closed 1013, {figures['_503']} API answers 503)", flush=True)
    print(f"\nseconds after SIGKILL of the master, over {args.runs} runs:")
    print(f"{'':14} {'median':>8} {'worst':>8}")
    for key in FIGURES:
        values = [r[key] for r in results]
        print(f"{key:14} {statistics.median(values):8.2f} {max(values):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
