"""Audit trail benchmark: recording cost and verification rate.

    .venv/bin/python bench/audit.py [--records 2000] [--verify-entries 100000]

Uses DATABASE_URL's server (or the embedded PostgreSQL) but its own scratch
database, created, migrated and dropped here. Prints:

- the cost of one audit_record call in its own transaction (p50, p99 ms),
  next to a plain single-row INSERT (autocommit) into an unpartitioned table
  with the same columns, timed interleaved in the same run;
- the verification rate (entries/s) of audit.verification.verify over
  --verify-entries entries.

Targets: recording within 3x the plain INSERT; verification >= 50,000/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, pg_connect, scratch_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000, help="timed single-entry records (and plain INSERTs)")
    parser.add_argument("--verify-entries", type=int, default=100_000, help="entries in the verified chain")
    args = parser.parse_args()

    admin_url, scratch_url = scratch_database(f"teamhub_bench_audit_{os.getpid()}")
    name = urlparse(scratch_url).path.lstrip("/")
    with pg_connect(admin_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    digest_dir = tempfile.mkdtemp(prefix="bench-audit-digests-")
    # DEBUG off: production's cursor (no query log), as deployed.
    os.environ.update(DATABASE_URL=scratch_url, AUDIT_DIGEST_DIR=digest_dir, DEBUG="0",
                      DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING")
    try:
        return run(args, name)
    finally:
        from django.db import connections

        connections.close_all()
        with pg_connect(admin_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import shutil

        shutil.rmtree(digest_dir, ignore_errors=True)


def run(args, name: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from audit.services import audit_record
    from audit.verification import verify

    print(f"scratch database {name}: migrating ...", flush=True)
    call_command("migrate", verbosity=0)

    with connection.cursor() as cursor:
        # The same columns as audit_logs, unpartitioned, primary key only.
        cursor.execute("""
            CREATE TABLE bench_plain (
                id uuid PRIMARY KEY, created_at timestamptz NOT NULL, actor_id uuid, actor_username varchar(150),
                acting_for_id uuid, acting_for_username varchar(150), org_id uuid, org_name varchar(100),
                action varchar(100), resource_type varchar(50), resource_id varchar(255), result varchar(20),
                level varchar(20), request_id varchar(100), ip inet, user_agent text, details jsonb,
                prev_hash varchar(64), hash varchar(64), signature varchar(64))
        """)
    plain_sql = ("INSERT INTO bench_plain VALUES (%s, now(), NULL, 'bench', NULL, '', NULL, '', 'bench.plain', "
                 "'thing', %s, 'success', 'info', '', NULL, '', %s::jsonb, %s, %s, %s)")
    details = {"old": {"status": "active"}, "new": {"status": "banned"}}
    import json

    details_json = json.dumps(details)

    # Warm up both paths (connections, plans, partition caches).
    for i in range(50):
        audit_record(action="bench.record", resource_type="thing", resource_id=str(i), details=details)
        with connection.cursor() as cursor:
            cursor.execute(plain_sql, [uuid.uuid4(), str(i), details_json, "0" * 64, "1" * 64, "2" * 64])

    def plain_insert(i):
        with connection.cursor() as cursor:
            cursor.execute(plain_sql, [uuid.uuid4(), str(i), details_json, "0" * 64, "1" * 64, "2" * 64])

    def timed_pair(i, record_ms, plain_ms):
        # Interleaved, so drift (checkpoints, autovacuum) hits both alike.
        start = time.perf_counter()
        audit_record(action="bench.record", resource_type="thing", resource_id=str(i), details=details)
        record_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        plain_insert(i)
        plain_ms.append((time.perf_counter() - start) * 1000)

    def show(title, record_ms, plain_ms):
        r50, r99 = statistics.median(record_ms), percentile(record_ms, 99)
        p50, p99 = statistics.median(plain_ms), percentile(plain_ms, 99)
        print(f"\n{title} ({len(record_ms)} each, interleaved):")
        print(f"  audit_record        p50 {r50:7.3f} ms   p99 {r99:7.3f} ms")
        print(f"  plain INSERT        p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
        print(f"  ratio               p50 {r50 / p50:6.2f}x     p99 {r99 / p99:6.2f}x   (target <= 3x)")

    # 1. Each on its own: audit_record's own transaction vs an autocommit INSERT.
    record_ms, plain_ms = [], []
    for i in range(args.records):
        timed_pair(i, record_ms, plain_ms)
    show("recording, each in its own transaction (commit included)", record_ms, plain_ms)

    # 2. As services use it: inside the caller's open transaction (commit not
    #    timed for either; a transaction per 20 pairs).
    record_ms, plain_ms = [], []
    for batch in range(0, args.records, 20):
        with transaction.atomic():
            for i in range(batch, batch + 20):
                timed_pair(i, record_ms, plain_ms)
    show("recording inside the caller's transaction", record_ms, plain_ms)

    existing = connection.cursor()
    existing.execute("SELECT count(*) FROM audit_logs")
    have = existing.fetchone()[0]
    missing = max(args.verify_entries - have, 0)
    print(f"\nbuilding a chain of {args.verify_entries} entries ({missing} more, 1000 per transaction) ...",
          flush=True)
    start = time.perf_counter()
    for batch_start in range(0, missing, 1000):
        with transaction.atomic():
            for i in range(batch_start, min(batch_start + 1000, missing)):
                audit_record(action="bench.chain", resource_type="thing", resource_id=str(i), details=details)
    built = time.perf_counter() - start
    if missing:
        print(f"  appended {missing} entries in {built:.1f} s ({missing / built:,.0f} entries/s, batched)")

    runs = []
    for _ in range(3):
        start = time.perf_counter()
        result = verify()
        runs.append(time.perf_counter() - start)
        assert result.ok, result
    best = min(runs)
    print(f"\nverification of {result.checked} entries: best of 3 {best:.2f} s "
          f"-> {result.checked / best:,.0f} entries/s   (target >= 50,000/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
