"""Audit trail benchmark: recording cost and verification rate.

    .venv/bin/python bench/audit.py [--records 1000] [--trials 5] [--verify-entries 100000]

Uses DATABASE_URL's server (or the embedded PostgreSQL) but its own scratch
database, created, migrated and dropped here. Prints:

- the cost of one audit_record call (p50, p99 ms; signing in Python
  included), next to a plain single-row INSERT into an unpartitioned table
  with the same columns, timed interleaved in the same run: each in its own
  transaction, and inside a caller's transaction. --trials trials of
  --records pairs each, then the best and the median trial's p50 ratio;
- the verification rate (entries/s) of audit.verification.verify, which
  checks every entry's link, hash and signature, over --verify-entries
  entries (anchored at the head, as the periodic anchor leaves a chain),
  best and median of --trials runs;
- the time of one anchoring run (verify since the last anchor, sign the head)
  after 3,000 new entries.

Targets: recording within 3x the plain INSERT; verification >= 50,000/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import created_scratch_database, percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="timed records (and plain INSERTs) per trial")
    parser.add_argument("--trials", type=int, default=5, help="trials of recording and of verification")
    parser.add_argument("--verify-entries", type=int, default=100_000, help="entries in the verified chain")
    args = parser.parse_args()

    name = f"teamhub_bench_audit_{os.getpid()}"
    digest_dir = tempfile.mkdtemp(prefix="bench-audit-digests-")
    # DEBUG off: production's cursor (no query log), as deployed.
    os.environ.update(AUDIT_DIGEST_DIR=digest_dir, DEBUG="0", DJANGO_SETTINGS_MODULE="config.settings",
                      LOG_LEVEL="WARNING")
    try:
        with created_scratch_database(name):
            return run(args, name)
    finally:
        shutil.rmtree(digest_dir, ignore_errors=True)


def run(args, name: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from audit import anchors
    from audit.services import audit_record
    from audit.verification import anchor_head, verify

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
                prev_hash varchar(64), hash varchar(64), signature varchar(64), chain_version smallint)
        """)
    plain_sql = ("INSERT INTO bench_plain VALUES (%s, now(), NULL, 'bench', NULL, '', NULL, '', 'bench.plain', "
                 "'thing', %s, 'success', 'info', '', NULL, '', %s::jsonb, %s, %s, %s, 2)")
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

    def own_transaction(record_ms, plain_ms):
        for i in range(args.records):
            timed_pair(i, record_ms, plain_ms)

    def callers_transaction(record_ms, plain_ms):
        # Commit timed for neither; a transaction per 20 pairs.
        for batch in range(0, args.records, 20):
            with transaction.atomic():
                for i in range(batch, min(batch + 20, args.records)):
                    timed_pair(i, record_ms, plain_ms)

    for title, trial in (("recording, each in its own transaction (commit included)", own_transaction),
                         ("recording inside the caller's transaction", callers_transaction)):
        print(f"\n{title}: {args.trials} trials of {args.records} interleaved pairs")
        ratios = []
        for n in range(args.trials):
            record_ms, plain_ms = [], []
            trial(record_ms, plain_ms)
            r50, p50 = statistics.median(record_ms), statistics.median(plain_ms)
            ratios.append(r50 / p50)
            print(f"  trial {n + 1}: audit_record p50 {r50:6.3f} ms p99 {percentile(record_ms, 99):6.3f} ms | "
                  f"plain INSERT p50 {p50:6.3f} ms p99 {percentile(plain_ms, 99):6.3f} ms | ratio {r50 / p50:4.2f}x")
        print(f"  ratio of p50s: best {min(ratios):.2f}x, median {statistics.median(ratios):.2f}x   (target <= 3x)")

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
    anchors.write_anchor()

    rates = []
    for _ in range(args.trials):
        start = time.perf_counter()
        result = verify()
        rates.append(result.checked / (time.perf_counter() - start))
        assert result.ok, result
    print(f"\nverification of {result.checked} entries (every link, hash and signature), {args.trials} runs: "
          f"best {max(rates):,.0f} entries/s, median {statistics.median(rates):,.0f} entries/s   "
          f"(target >= 50,000/s)")

    with transaction.atomic():
        for i in range(3000):
            audit_record(action="bench.later", resource_type="thing", resource_id=str(i), details=details)
    start = time.perf_counter()
    outcome = anchor_head()
    took = time.perf_counter() - start
    assert outcome["anchor"] is not None, outcome
    print(f"\nanchoring run after {outcome['checked'] - 1} new entries: {took * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
