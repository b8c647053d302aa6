"""Entries written before migration 0004 (chain format 1, hashed and signed
in SQL) stay verifiable after it, and the chain runs on through the change."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.chain import hmac_key, hmac_pads
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import BAD_SIGNATURE, HASH_MISMATCH, verify
from tests.audit.conftest import rehash, tamper

BEFORE = ("audit", "0003_chain_append_one_round_trip")
AFTER = ("audit", "0004_chain_v2_signed_in_python")


def migrate(target=None):
    """To ``target``, or with None back to every app's latest migration
    (going back before 0004 also unapplies the migrations that depend on it,
    such as chat's posting function, which later tests need)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def write_format_1(n: int) -> None:
    """Record as the code before 0004 did: 0003's function with the key blocks."""
    inner, outer = hmac_pads(hmac_key())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT entry_hash FROM audit_chain_append(%s, NULL, NULL, 'alice', NULL, '', NULL, 'acme', "
            "'test.old', 'thing', %s, 'success', 'info', 'req', '2001:DB8::0:1', 'ua', %s, %s, %s)",
            [uuid.uuid4(), str(n), '{"z": 1e20, "a": [1.50, "ü"]}', inner, outer],
        )


@pytest.mark.django_db(transaction=True)
def test_format_1_entries_verify_after_the_migration_and_the_chain_runs_on():
    migrate(BEFORE)
    try:
        for n in range(4):
            write_format_1(n)
    finally:
        migrate()
    assert AFTER in MigrationExecutor(connection).loader.applied_migrations
    new = [audit_record(action="test.new", details={"n": n}) for n in range(3)]
    old = list(AuditLog.objects.filter(action="test.old").order_by("created_at"))
    assert [e.chain_version for e in old] == [1] * 4 and all(e.chain_version == 2 for e in new)
    assert AuditLog.objects.get(pk=new[0].pk).prev_hash == old[-1].hash  # one chain through the change
    result = verify()
    assert result.ok and result.checked == 7

    # Format 1 entries are checked to the same standard: every signature,
    # and a field changed without rehashing.
    tamper("UPDATE audit_logs SET signature = %s WHERE id = %s", [old[2].signature, old[1].pk])
    assert (verify().first_broken.id, verify().first_broken.reason) == (str(old[1].pk), BAD_SIGNATURE)
    tamper("UPDATE audit_logs SET signature = %s WHERE id = %s", [old[1].signature, old[1].pk])
    tamper("UPDATE audit_logs SET resource_id = 'x' WHERE id = %s", [old[2].pk])
    assert (verify().first_broken.id, verify().first_broken.reason) == (str(old[2].pk), HASH_MISMATCH)
    # Rehashed by a forger, or relabelled as format 2: the signature gives it away.
    rehash([AuditLog.objects.get(pk=e.pk) for e in (*old[2:], *new)], old[1].hash)
    assert (verify().first_broken.id, verify().first_broken.reason) == (str(old[2].pk), BAD_SIGNATURE)
    tamper("UPDATE audit_logs SET chain_version = 2 WHERE id = %s", [old[2].pk])
    rehash([AuditLog.objects.get(pk=e.pk) for e in (*old[2:], *new)], old[1].hash)
    assert (verify().first_broken.id, verify().first_broken.reason) == (str(old[2].pk), BAD_SIGNATURE)
