"""Tampering (with triggers bypassed) is caught, and the right entry named."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit import anchors
from audit.chain import HASHED_SELECT, entry_hash
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import BAD_SIGNATURE, BROKEN_LINK, HASH_MISMATCH, TRUNCATED, verify
from tests.audit.conftest import tamper

pytestmark = pytest.mark.django_db


def five():
    return [audit_record(action="test.entry", details={"n": n}) for n in range(5)]


def run_verify(*args):
    """audit_verify's output and exit status (CommandError exits 1)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
        return out.getvalue(), 0, ""
    except CommandError as exc:
        return out.getvalue(), 1, str(exc)


def test_intact_chain_verifies_and_the_command_exits_zero():
    five()
    out, status, _ = run_verify()
    assert status == 0
    assert f"checked {AuditLog.objects.count()} entries" in out


def test_forged_details_are_a_hash_mismatch_at_that_entry():
    entries = five()
    tamper("UPDATE audit_logs SET details = '{\"n\": 99}' WHERE id = %s", [entries[2].pk])
    result = verify()
    assert not result.ok
    assert (result.first_broken.id, result.first_broken.reason) == (str(entries[2].pk), HASH_MISMATCH)
    out, status, error = run_verify()
    assert status == 1
    assert str(entries[2].pk) in error and "hash mismatch" in error
    assert entries[2].created_at.strftime("%Y-%m-%dT%H:%M:%S") in error


def test_a_recomputed_hash_without_the_key_is_a_bad_signature():
    entries = five()
    target = entries[1]
    # The forger rewrites the details and recomputes the SHA-256, but cannot sign.
    tamper("UPDATE audit_logs SET details = '{\"n\": 42}' WHERE id = %s", [target.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {HASHED_SELECT} FROM audit_logs WHERE id = %s", [target.pk])
        forged_hash = entry_hash(cursor.fetchone())
    tamper("UPDATE audit_logs SET hash = %s WHERE id = %s", [forged_hash, target.pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(target.pk), BAD_SIGNATURE)


def test_a_deleted_entry_is_a_broken_link_at_the_next_one():
    entries = five()
    tamper("DELETE FROM audit_logs WHERE id = %s", [entries[2].pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(entries[3].pk), BROKEN_LINK)
    assert result.checked == AuditLog.objects.filter(created_at__lt=entries[2].created_at).count()


def test_two_swapped_entries_are_a_broken_link_at_the_first_out_of_place():
    entries = five()
    a, b = entries[1], entries[2]
    tamper(
        "UPDATE audit_logs SET created_at = CASE WHEN id = %s THEN %s::timestamptz ELSE %s::timestamptz END "
        "WHERE id IN (%s, %s)",
        [a.pk, b.created_at, a.created_at, a.pk, b.pk],
    )
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(b.pk), BROKEN_LINK)


def test_since_and_until_limit_the_range_and_still_check_the_link_into_it():
    entries = five()
    result = verify(since=entries[2].created_at, until=entries[3].created_at)
    assert result.ok and result.checked == 2
    tamper("DELETE FROM audit_logs WHERE id = %s", [entries[1].pk])
    result = verify(since=entries[2].created_at)
    assert (result.first_broken.id, result.first_broken.reason) == (str(entries[2].pk), BROKEN_LINK)
    out, status, _ = run_verify("--since", entries[3].created_at.isoformat())
    assert status == 0 and "checked 2 entries" in out


def test_truncating_the_newest_entries_is_caught_by_the_anchor():
    entries = five()
    anchor = anchors.write_anchor()
    assert anchor["head_id"] == str(entries[-1].pk)
    assert verify().ok
    tamper("DELETE FROM audit_logs WHERE created_at >= %s", [entries[3].created_at])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(entries[-1].pk), TRUNCATED)


def test_a_forged_anchor_record_is_reported(settings):
    five()
    anchors.write_anchor()
    path = anchors.digest_path()
    path.write_text(path.read_text().replace('"kind": "anchor"', '"kind": "anchor", "x": 1'))
    result = verify()
    assert not result.ok and result.first_broken.reason == "bad digest record"


def test_anchor_records_are_appended_and_signed():
    five()
    anchors.write_anchor()
    audit_record(action="test.later")
    anchors.write_anchor()
    records = anchors.load()
    assert [r.kind for r in records] == ["anchor", "anchor"] and all(r.valid for r in records)
    assert records[1].data["head_id"] != records[0].data["head_id"]


def test_hourly_check_alerts_staff_once_when_the_chain_breaks(caplog):
    from audit.tasks import audit_verify_recent

    entries = five()
    assert audit_verify_recent()["ok"] is True
    tamper("UPDATE audit_logs SET details = '{}' WHERE id = %s", [entries[0].pk])
    with caplog.at_level("CRITICAL", logger="audit.alerts"):
        outcome = audit_verify_recent()
        audit_verify_recent()  # the same break is not alerted twice in a day
    assert outcome["ok"] is False and outcome["first_broken"]["id"] == str(entries[0].pk)
    [alert] = AuditLog.objects.filter(action="alert.chain.broken")
    assert alert.level == "critical" and alert.details["first_broken"]["id"] == str(entries[0].pk)
    assert any(str(entries[0].pk) in r.getMessage() for r in caplog.records if r.levelname == "CRITICAL")


def test_the_daily_anchor_verifies_first_and_never_anchors_a_broken_chain():
    from audit.tasks import anchor_chain_head

    entries = five()
    assert anchor_chain_head()["anchor"]["head_id"] == str(entries[-1].pk)
    later = audit_record(action="test.later")
    tamper("UPDATE audit_logs SET action = 'test.forged' WHERE id = %s", [later.pk])
    outcome = anchor_chain_head()
    assert outcome["anchor"] is None and outcome["first_broken"]["id"] == str(later.pk)
    assert [r.data["head_id"] for r in anchors.load()] == [str(entries[-1].pk)]


@pytest.mark.parametrize("count,target", [(5, 1), (150, 70), (150, 149)])
def test_a_forger_who_rehashes_the_rest_of_the_chain_is_caught_by_the_signatures(count, target):
    # Without the key a forger can still recompute every SHA-256 after the
    # forged entry, keeping all links and hashes consistent; only the
    # signatures give it away, and the first bad one is the forged entry.
    entries = [audit_record(action="test.entry", details={"n": n}) for n in range(count)]
    tamper("UPDATE audit_logs SET details = '{\"n\": -1}' WHERE id = %s", [entries[target].pk])
    prev = entries[target - 1].hash
    for entry in entries[target:]:
        tamper("UPDATE audit_logs SET prev_hash = %s WHERE id = %s", [prev, entry.pk])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {HASHED_SELECT} FROM audit_logs WHERE id = %s", [entry.pk])
            prev = entry_hash(cursor.fetchone())
        tamper("UPDATE audit_logs SET hash = %s WHERE id = %s", [prev, entry.pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(entries[target].pk), BAD_SIGNATURE)
    before = AuditLog.objects.filter(created_at__lt=entries[target].created_at).count()
    assert result.checked == before
