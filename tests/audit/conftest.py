import pytest
from django.db import connection

from audit.chain import ROW_SELECT, row_hash


@pytest.fixture(autouse=True)
def audit_dirs(settings, tmp_path):
    """Digest files and partition archives of each test stay in its tmp dir."""
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"
    settings.PARTITION_ARCHIVE_DIR = tmp_path / "archive"
    return tmp_path


def tamper(sql, params=()):
    """Run SQL with triggers bypassed, as an attacker with database access could."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def stored_row(entry_id, created_at=None):
    """The entry as the verifier reads it (audit.chain.ROW_SELECT)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ROW_SELECT} FROM audit_logs WHERE id = %s AND (%s::timestamptz IS NULL "
                       "OR created_at = %s)", [entry_id, created_at, created_at])
        [row] = cursor.fetchall()
        return row


def rehash(entries, prev_hash):
    """What a forger without the key can do after changing entries: relink
    and recompute the unkeyed hash of each of ``entries`` (AuditLog objects
    with their current created_at, in their new chain order), so links and
    hashes are consistent again. Returns the new head hash."""
    for entry in entries:
        where = "WHERE id = %s AND created_at = %s"
        tamper(f"UPDATE audit_logs SET prev_hash = %s {where}", [prev_hash, entry.pk, entry.created_at])
        prev_hash = row_hash(stored_row(entry.pk, entry.created_at))
        tamper(f"UPDATE audit_logs SET hash = %s {where}", [prev_hash, entry.pk, entry.created_at])
    return prev_hash


def run_concurrently(target, count):
    """Run ``target(n)`` for n in range(count) in threads started together,
    each with its own database connection. Returns (results, errors)."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(count)
    results, errors = [], []

    def run(n):
        try:
            barrier.wait()
            results.append(target(n))
        except Exception as exc:  # surfaced to the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
