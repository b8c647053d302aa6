"""Tampering as a database superuser would (triggers bypassed, unkeyed hashes
recomputed) is caught, and the right entry named, by every face of the check."""

import pytest
from django.core.management import CommandError, call_command

from audit import anchors
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import (
    ANCHOR_MISMATCH, BAD_SIGNATURE, BROKEN_LINK, DUPLICATE, HASH_MISMATCH, TRUNCATED, UNKNOWN_FORMAT, anchor_head,
    verify,
)
from tests.audit.conftest import rehash, tamper

pytestmark = pytest.mark.django_db


# Every column, id and created_at first.
COLUMNS = ", ".join(f.column for f in AuditLog._meta.concrete_fields)


def entries(count=5):
    return [audit_record(action="test.entry", details={"n": n}) for n in range(count)]


def run_verify(*args):
    """audit_verify's output and exit status (CommandError exits 1)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
        return out.getvalue(), 0, ""
    except CommandError as exc:
        return out.getvalue(), 1, str(exc)


def before(entry) -> int:
    return AuditLog.objects.filter(created_at__lt=entry.created_at).count()


@pytest.fixture
def staff_client(make_user, client):
    client.force_login(make_user("staffer", is_staff=True, is_superuser=True))
    return client


def test_intact_chain_verifies_and_the_command_exits_zero():
    entries()
    out, status, _ = run_verify()
    assert status == 0
    assert f"checked {AuditLog.objects.count()} entries" in out


def test_an_edited_signature_in_the_middle_is_named_by_the_command_the_api_and_the_admin(staff_client):
    # The column alone, hash and links untouched: only checking every
    # entry's signature can see it.
    chain = entries(9)
    target = chain[4]
    tamper("UPDATE audit_logs SET signature = %s WHERE id = %s", [chain[5].signature, target.pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(target.pk), BAD_SIGNATURE)
    assert result.checked == before(target)

    out, status, error = run_verify()
    assert status == 1 and f"id={target.pk}" in error and "bad signature" in error

    body = staff_client.get("/api/v1/audit/verify").json()
    assert body == {"ok": False, "checked": before(target), "first_broken": {
        "id": str(target.pk), "created_at": result.first_broken.created_at, "reason": BAD_SIGNATURE}}

    page = staff_client.post("/admin/audit/auditlog/verify/", {}).content.decode()
    assert "BROKEN" in page and str(target.pk) in page and "bad signature" in page


@pytest.mark.parametrize("position", [0, 4, 8])
def test_each_entry_signature_is_checked_wherever_it_is(position):
    chain = entries(9)
    target = chain[position]
    tamper("UPDATE audit_logs SET signature = repeat('0', 64) WHERE id = %s", [target.pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(target.pk), BAD_SIGNATURE)


def test_an_edited_field_is_a_hash_mismatch_at_that_entry():
    chain = entries()
    tamper("UPDATE audit_logs SET details = '{\"n\": 99}' WHERE id = %s", [chain[2].pk])
    result = verify()
    assert not result.ok
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[2].pk), HASH_MISMATCH)
    out, status, error = run_verify()
    assert status == 1
    assert str(chain[2].pk) in error and "hash mismatch" in error
    assert chain[2].created_at.strftime("%Y-%m-%dT%H:%M:%S") in error


@pytest.mark.parametrize("column,value", [
    ("details", '{"n": 42}'), ("actor_username", "someone-else"), ("action", "test.forged"),
    ("ip", "10.9.9.9"), ("user_agent", "forged"), ("result", "failure"), ("chain_version", "1"),
])
def test_an_edited_field_with_its_hash_recomputed_is_a_bad_signature(column, value):
    # The forger changes a field and recomputes the unkeyed hash of it and
    # of everything after it, but cannot sign. Relabelling the entry as
    # format 1 does not help: format 1's signature needs the key too.
    chain = entries()
    target = chain[1]
    tamper(f"UPDATE audit_logs SET {column} = %s WHERE id = %s", [value, target.pk])
    rehash(chain[1:], chain[0].hash)
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(target.pk), BAD_SIGNATURE)
    assert result.checked == before(target)


@pytest.mark.parametrize("count,target", [(5, 1), (150, 70), (150, 149)])
def test_a_forger_who_rehashes_the_rest_of_the_chain_is_caught_at_the_forged_entry(count, target):
    chain = entries(count)
    tamper("UPDATE audit_logs SET details = '{\"n\": -1}' WHERE id = %s", [chain[target].pk])
    rehash(chain[target:], chain[target - 1].hash)
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[target].pk), BAD_SIGNATURE)
    assert result.checked == before(chain[target])


def test_a_made_up_entry_cannot_be_signed():
    chain = entries()
    # A copy of an entry with a new id, slotted in between two others.
    between = chain[2].created_at + (chain[3].created_at - chain[2].created_at) / 2
    tamper(f"INSERT INTO audit_logs ({COLUMNS}) SELECT gen_random_uuid(), %s, {COLUMNS.split(', ', 2)[2]} "
           "FROM audit_logs WHERE id = %s", [between, chain[2].pk])
    tamper("UPDATE audit_logs SET action = 'test.invented' WHERE created_at = %s", [between])
    invented = AuditLog.objects.get(action="test.invented")
    rehash([invented, chain[3], chain[4]], chain[2].hash)
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(invented.pk), BAD_SIGNATURE)


def test_an_unknown_chain_version_is_reported():
    chain = entries()
    tamper("UPDATE audit_logs SET chain_version = 9 WHERE id = %s", [chain[3].pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[3].pk), UNKNOWN_FORMAT)


def test_a_deleted_middle_entry_is_a_broken_link_at_the_next_one():
    chain = entries()
    tamper("DELETE FROM audit_logs WHERE id = %s", [chain[2].pk])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[3].pk), BROKEN_LINK)
    assert result.checked == before(chain[2])


def test_a_deleted_middle_entry_relinked_by_the_forger_is_caught_by_the_anchor():
    # Relinking after a deletion needs no key; the anchored head's hash,
    # which commits to every entry before it, no longer matches.
    chain = entries()
    anchors.write_anchor()
    tamper("DELETE FROM audit_logs WHERE id = %s", [chain[2].pk])
    rehash(chain[3:], chain[1].hash)
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[-1].pk), ANCHOR_MISMATCH)


def test_two_swapped_entries_are_a_broken_link_at_the_first_out_of_place():
    chain = entries()
    a, b = chain[1], chain[2]
    tamper(
        "UPDATE audit_logs SET created_at = CASE WHEN id = %s THEN %s::timestamptz ELSE %s::timestamptz END "
        "WHERE id IN (%s, %s)",
        [a.pk, b.created_at, a.created_at, a.pk, b.pk],
    )
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(b.pk), BROKEN_LINK)


def test_entries_reordered_and_rehashed_before_an_anchor_are_caught_by_it():
    chain = entries()
    anchors.write_anchor()
    a, b = chain[1], chain[2]
    tamper(
        "UPDATE audit_logs SET created_at = CASE WHEN id = %s THEN %s::timestamptz ELSE %s::timestamptz END "
        "WHERE id IN (%s, %s)",
        [a.pk, b.created_at, a.created_at, a.pk, b.pk],
    )
    rehash([AuditLog.objects.get(pk=e.pk) for e in (b, a, *chain[3:])], chain[0].hash)
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[-1].pk), ANCHOR_MISMATCH)


def test_a_truncated_tail_is_caught_by_the_latest_anchor():
    chain = entries()
    outcome = anchor_head()
    assert outcome["anchor"]["head_id"] == str(chain[-1].pk)
    assert verify().ok
    # The newest two go: no link shows it, the anchor does.
    tamper("DELETE FROM audit_logs WHERE created_at >= %s", [chain[3].created_at])
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[-1].pk), TRUNCATED)
    out, status, error = run_verify()
    assert status == 1 and f"id={chain[-1].pk}" in error and "truncated" in error
    # Nor can a later anchoring run paper over it.
    audit_record(action="test.after_the_cut")
    outcome = anchor_head()
    assert outcome["anchor"] is None and outcome["first_broken"]["reason"] == TRUNCATED


def test_a_copied_entry_after_the_latest_anchor_is_a_duplicate():
    # A signed entry stored again (same id, content and signature) at the
    # tail, relinked: signature and links pass, the repeated id does not.
    chain = entries()
    anchor_head()
    later = audit_record(action="test.later")
    tamper(f"INSERT INTO audit_logs ({COLUMNS}) SELECT id, %s::timestamptz + interval '1 second', "
           f"{COLUMNS.split(', ', 2)[2]} FROM audit_logs WHERE id = %s", [later.created_at, chain[1].pk])
    copy = AuditLog.objects.filter(pk=chain[1].pk).order_by("-created_at").first()
    rehash([copy], later.hash)
    result = verify()
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[1].pk), DUPLICATE)
    outcome = anchor_head()
    assert outcome["anchor"] is None and outcome["first_broken"]["reason"] == DUPLICATE


def test_since_and_until_limit_the_range_and_still_check_the_link_into_it():
    chain = entries()
    result = verify(since=chain[2].created_at, until=chain[3].created_at)
    assert result.ok and result.checked == 2
    tamper("DELETE FROM audit_logs WHERE id = %s", [chain[1].pk])
    result = verify(since=chain[2].created_at)
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[2].pk), BROKEN_LINK)
    out, status, _ = run_verify("--since", chain[3].created_at.isoformat())
    assert status == 0 and "checked 2 entries" in out


def test_a_forged_anchor_record_is_reported():
    entries()
    anchors.write_anchor()
    path = anchors.digest_path()
    path.write_text(path.read_text().replace('"kind": "anchor"', '"kind": "anchor", "x": 1'))
    result = verify()
    assert not result.ok and result.first_broken.reason == "bad digest record"


def test_anchor_records_are_appended_and_signed():
    entries()
    anchors.write_anchor()
    audit_record(action="test.later")
    anchors.write_anchor()
    records = anchors.load()
    assert [r.kind for r in records] == ["anchor", "anchor"] and all(r.valid for r in records)
    assert records[1].data["head_id"] != records[0].data["head_id"]


def test_the_periodic_anchor_verifies_first_and_never_anchors_a_broken_chain():
    chain = entries()
    assert anchor_head()["anchor"]["head_id"] == str(chain[-1].pk)
    later = audit_record(action="test.later")
    tamper("UPDATE audit_logs SET action = 'test.forged' WHERE id = %s", [later.pk])
    outcome = anchor_head()
    assert outcome["anchor"] is None and outcome["first_broken"]["id"] == str(later.pk)
    assert [r.data["head_id"] for r in anchors.load()] == [str(chain[-1].pk)]
    [alert] = AuditLog.objects.filter(action="alert.chain.broken")
    assert alert.details["first_broken"]["id"] == str(later.pk)


def test_a_quiet_chain_gets_no_new_anchors():
    entries()
    assert anchor_head()["anchor"] is not None
    for _ in range(3):  # the beat keeps firing; nothing was written
        assert anchor_head()["skipped"] == "unchanged"
    assert len(anchors.load()) == 1
    audit_record(action="test.later")
    outcome = anchor_head()
    assert outcome["anchor"]["head_id"] == str(AuditLog.objects.latest("created_at").pk)
    assert outcome["checked"] == 2  # the previous head and the new entry, not the whole chain
    assert len(anchors.load()) == 2


def test_an_empty_log_gets_no_anchor():
    assert anchor_head()["skipped"] == "empty"
    assert anchors.load() == []


def test_the_anchor_is_made_at_least_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["audit-anchor"]
    assert entry["task"] == "audit.tasks.audit_anchor"
    assert float(entry["schedule"]) <= 60 and entry["options"]["expires"] <= 60


def test_the_anchor_command_anchors_and_fails_on_a_broken_chain():
    from io import StringIO

    chain = entries()
    out = StringIO()
    call_command("audit_anchor", stdout=out)
    assert str(chain[-1].pk) in out.getvalue()
    later = audit_record(action="test.later")
    tamper("UPDATE audit_logs SET signature = repeat('a', 64) WHERE id = %s", [later.pk])
    with pytest.raises(CommandError, match="not anchored"):
        call_command("audit_anchor", stdout=StringIO())


def test_hourly_check_alerts_staff_once_when_the_chain_breaks(caplog, settings):
    from audit.tasks import audit_verify_recent

    chain = entries()
    assert audit_verify_recent()["ok"] is True
    tamper("UPDATE audit_logs SET details = '{}' WHERE id = %s", [chain[0].pk])
    with caplog.at_level("CRITICAL", logger="audit.alerts"):
        outcome = audit_verify_recent()
        audit_verify_recent()  # the same break is not alerted twice in a day
    assert outcome["ok"] is False and outcome["first_broken"]["id"] == str(chain[0].pk)
    [alert] = AuditLog.objects.filter(action="alert.chain.broken")
    assert alert.level == "critical" and alert.details["first_broken"]["id"] == str(chain[0].pk)
    assert any(str(chain[0].pk) in r.getMessage() for r in caplog.records if r.levelname == "CRITICAL")


def test_the_hourly_check_covers_the_newest_entries_across_anchors(settings):
    from audit.tasks import audit_verify_recent

    chain = entries(6)
    anchor_head()
    audit_record(action="test.later")
    settings.AUDIT_VERIFY_RECENT_LIMIT = 4
    assert audit_verify_recent() == {"ok": True, "checked": 4, "first_broken": None}
    tamper("UPDATE audit_logs SET signature = repeat('b', 64) WHERE id = %s", [chain[-2].pk])
    assert audit_verify_recent()["first_broken"]["id"] == str(chain[-2].pk)


def test_the_verifier_reads_only_the_digest_file_s_tail_for_a_recent_range():
    # The file grows by a line a minute; a check since the latest anchor must
    # not read all of it (and a line still being written is not read yet).
    chain = entries(3)
    path = anchors.digest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two thousand old anchors on a head long gone (as after retention):
    old = {"kind": "anchor", "head_id": "00000000-0000-0000-0000-000000000000", "head_hash": "0" * 64,
           "head_created_at": "2000-01-01T00:00:00.000000Z"}
    anchors.append(old)
    line = path.read_bytes()
    with open(path, "ab") as handle:
        handle.write(line * 1999)
    assert path.stat().st_size > 3 * 64 * 1024
    anchors.write_anchor()
    with open(path, "ab") as handle:
        handle.write(b'{"kind": "anchor", "head_id": "half-writ')
    recent = anchors.load(since=chain[-1].created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert [r.data["head_id"] for r in recent] == [str(chain[-1].pk)]
    assert anchors.latest_anchor().data["head_id"] == str(chain[-1].pk)
    assert verify(since=chain[-1].created_at).ok
    assert len(anchors.load()) == 2001


def test_verification_reports_the_change_of_key():
    # Every entry signed with one key and checked with another fails at the
    # first one: the signatures really are checked with the key.
    from django.test import override_settings

    chain = entries(2)
    with override_settings(AUDIT_HMAC_KEY="another-key-of-at-least-thirty-two-chars"):
        result = verify(since=chain[0].created_at)
    assert (result.first_broken.id, result.first_broken.reason) == (str(chain[0].pk), BAD_SIGNATURE)


def test_a_break_found_while_the_next_batch_is_being_read_stops_cleanly(monkeypatch):
    # Batches are read ahead by a thread; stopping at a break in an early
    # batch must name the right entry and leave the connection usable.
    import audit.verification

    monkeypatch.setattr(audit.verification, "_BATCH", 7)
    chain = entries(60)
    assert verify().ok and verify().checked == 60
    tamper("UPDATE audit_logs SET signature = repeat('c', 64) WHERE id = %s", [chain[20].pk])
    for _ in range(3):
        result = verify()
        assert (result.first_broken.id, result.first_broken.reason, result.checked) == (
            str(chain[20].pk), BAD_SIGNATURE, 20)
    assert AuditLog.objects.count() == 60
