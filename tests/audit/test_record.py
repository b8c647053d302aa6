"""audit_record: the fields, the chain, the transaction, append-only."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.chain import GENESIS, HASHED_SELECT, entry_hash, sign
from audit.context import AuditContext, use_context
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import verify
from orgs.models import Organization

pytestmark = pytest.mark.django_db


def chain():
    return list(AuditLog.objects.order_by("created_at", "id"))


def test_records_every_field_and_links_to_genesis(make_user):
    actor, principal = make_user("alice"), make_user("bob")
    org = Organization.objects.create(owner=actor, name="acme")
    with use_context(AuditContext(request_id="req-1", ip="10.0.0.7", user_agent="pytest-agent")):
        entry = audit_record(
            action="room.member.kicked", actor=actor, acting_for=principal, org=org,
            resource_type="room", resource_id="r1", result="failure", level="warning",
            details={"old": {"role": "member"}, "new": None},
        )
    stored = AuditLog.objects.get(pk=entry.pk)
    assert (stored.actor, stored.actor_username) == (actor, "alice")
    assert (stored.acting_for, stored.acting_for_username) == (principal, "bob")
    assert (stored.org, stored.org_name) == (org, "acme")
    assert (stored.action, stored.resource_type, stored.resource_id) == ("room.member.kicked", "room", "r1")
    assert (stored.result, stored.level) == ("failure", "warning")
    assert (stored.request_id, stored.ip, stored.user_agent) == ("req-1", "10.0.0.7", "pytest-agent")
    assert stored.details == {"old": {"role": "member"}, "new": None}
    # Creating the users and the org recorded entries first: this one links to them.
    assert stored.prev_hash == AuditLog.objects.exclude(pk=entry.pk).latest("created_at").hash
    assert stored.hash == entry.hash and stored.signature == sign(stored.hash)
    # The stored hash is what the fields hash to, read back from the database.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {HASHED_SELECT} FROM audit_logs WHERE id = %s", [entry.pk])
        assert entry_hash(cursor.fetchone()) == stored.hash


def test_the_first_entry_links_to_genesis():
    audit_record(action="test.first")
    assert AuditLog.objects.order_by("created_at", "id").first().prev_hash == GENESIS


def test_outside_a_request_the_context_is_empty():
    entry = audit_record(action="job.cancelled")
    stored = AuditLog.objects.get(pk=entry.pk)
    assert (stored.request_id, stored.ip, stored.user_agent, stored.actor) == ("", None, "", None)


def test_entries_form_one_chain_in_created_at_order():
    entries = [audit_record(action="test.step", details={"n": n}) for n in range(5)]
    stored = chain()
    assert [e.pk for e in stored] == [e.pk for e in entries]
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert all(a.created_at < b.created_at for a, b in zip(stored, stored[1:]))
    assert verify().ok and verify().checked == 5


def test_details_that_jsonb_normalizes_still_verify():
    # JSONB rewrites 1e20, key order and duplicate whitespace; the hash is over
    # the database's rendering, so it still verifies.
    audit_record(action="test.json", details={"z": 1e20, "a": [1.50, "ü", {"b": None}], "big": 2**70})
    assert verify().ok


def test_rolled_back_change_leaves_no_entry_and_no_gap(make_user):
    first = audit_record(action="test.before")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            make_user("ghost")
            audit_record(action="test.rolled_back")
            raise RuntimeError("the change fails")
    after = audit_record(action="test.after")
    assert [e.action for e in chain()] == ["test.before", "test.after"]
    assert after.prev_hash == first.hash
    assert verify().ok


def test_rejects_an_action_that_is_not_a_dotted_code():
    with pytest.raises(ValueError):
        audit_record(action="Login Failed")
    with pytest.raises(ValueError):
        audit_record(action="auth.login", result="maybe")
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize("sql", [
    "UPDATE audit_logs SET action = 'forged.action'",
    "DELETE FROM audit_logs",
    "DELETE FROM {current_partition}",
])
def test_database_refuses_update_and_delete(sql):
    audit_record(action="test.kept")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            # Also straight on a partition: the parent's row trigger is cloned onto each.
            cursor.execute(sql.format(current_partition=f"audit_logs_{timezone.now():%Y_%m}"))
    assert AuditLog.objects.get().action == "test.kept"


def test_orm_update_and_delete_are_refused_too():
    entry = audit_record(action="test.kept")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).update(level="critical")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).delete()
    assert AuditLog.objects.get().level == "info"


def test_deleting_the_actor_keeps_the_entry_and_its_snapshot(make_user):
    # on_delete=SET_NULL is the one UPDATE the trigger allows; the chain
    # covers the snapshot, not the link, so it still verifies.
    user = make_user("leaver")
    audit_record(action="auth.login", actor=user)
    user.delete()
    stored = AuditLog.objects.get(action="auth.login")
    assert stored.actor_id is None and stored.actor_username == "leaver"
    assert verify().ok


def test_the_trigger_allows_clearing_links_but_not_changing_them(make_user):
    user, other = make_user("one"), make_user("two")
    entry = audit_record(action="auth.login", actor=user)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).update(actor=other)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).update(actor=None, actor_username="someone-else")
    assert AuditLog.objects.get(pk=entry.pk).actor == user


def test_the_request_user_is_the_default_actor(rf, make_user):
    user = make_user("carol")
    request = rf.get("/")
    request.user = user
    with use_context(AuditContext(request=request)):
        entry = audit_record(action="auth.password.changed")
    assert entry.actor == user and entry.actor_username == "carol"


def test_the_canonical_encoding_is_compact_json_of_the_database_renderings():
    # Pinned, so exports can be re-verified offline with any JSON library.
    import hashlib
    import json

    from audit.chain import canonical

    entry = audit_record(action="test.enc", details={"q": 'a"b\\c\nd\x01é', "n": 1.50})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {HASHED_SELECT} FROM audit_logs WHERE id = %s", [entry.pk])
        values = cursor.fetchone()
    text = canonical(values)
    assert text == json.dumps(["v1", *values], ensure_ascii=False, separators=(",", ":"))
    assert json.loads(values[13]) == {"q": 'a"b\\c\nd\x01é', "n": 1.5}
    assert hashlib.sha256(text.encode()).hexdigest() == entry.hash


@pytest.mark.django_db(transaction=True)
def test_refuses_to_append_under_repeatable_read():
    # A stale snapshot could read an old chain head and fork the chain.
    with pytest.raises(DatabaseError, match="READ COMMITTED"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        audit_record(action="test.stale")
    assert not AuditLog.objects.filter(action="test.stale").exists()


# Every class of character that JSON escaping treats differently: quote,
# backslash, slash, each control character, DEL, non-ASCII, a line separator
# and a character outside the BMP.
AWKWARD = 'q"b\\s/' + "".join(map(chr, range(1, 32))) + "\x7f é 中 \u2028 \U0001F600 end"


@pytest.mark.parametrize("key", [
    "k" * 32,
    "k" * 64,  # exactly one SHA-256 block
    "longer-than-one-block-" * 5,  # hashed down to 32 bytes first (RFC 2104)
    "ключ-не-ascii-" * 3,
])
def test_the_database_writer_and_the_python_verifier_agree_byte_for_byte(make_user, settings, key):
    # audit_chain_append hashes and signs in SQL; verification does it in
    # Python. Both must produce the same canonical bytes and signature.
    settings.AUDIT_HMAC_KEY = key
    actor = make_user("awkward")
    org = Organization.objects.create(owner=actor, name="acme")
    with use_context(AuditContext(request_id=AWKWARD[:100], ip="2001:DB8::0:1", user_agent=AWKWARD)):
        entry = audit_record(
            action="test.awkward", actor=actor, org=org, resource_type=AWKWARD, resource_id=AWKWARD,
            details={AWKWARD: [AWKWARD, 1.0, 1e-7, 2**70, None, True]},
        )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {HASHED_SELECT} FROM audit_logs WHERE id = %s", [entry.pk])
        values = cursor.fetchone()
    assert values[7] == AWKWARD[:255] and values[11] == "2001:db8::1"
    assert entry_hash(values) == entry.hash
    assert sign(entry.hash) == entry.signature
    assert verify().ok


def test_a_missing_ip_is_hashed_as_null():
    entry = audit_record(action="test.no_ip")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {HASHED_SELECT} FROM audit_logs WHERE id = %s", [entry.pk])
        values = cursor.fetchone()
    assert values[11] is None and entry.ip is None
    assert entry_hash(values) == entry.hash


@pytest.mark.django_db(transaction=True)
def test_an_entry_outside_a_transaction_commits_at_once_and_releases_the_chain():
    entry = audit_record(action="test.alone")
    # One autocommit statement: no transaction is left open and the chain
    # lock is already released for the next writer.
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM audit_logs WHERE id = %s", [entry.pk])
            assert cursor.fetchone()[0] == 1
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
                [connection.connection.info.backend_pid],
            )
            assert cursor.fetchone()[0] == 0
    finally:
        other.close()
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_hmac_key_never_enters_statement_text():
    # The database signs with key blocks passed as bound parameters; in the
    # statement text they would show in pg_stat_activity, the server's error
    # log and Django's query log.
    from django.test.utils import CaptureQueriesContext

    from audit.chain import hmac_key, hmac_pads

    secrets = [block.hex() for block in hmac_pads(hmac_key())]
    with CaptureQueriesContext(connection) as captured:
        audit_record(action="test.secret")
    assert not any(s in q["sql"] for q in captured.captured_queries for s in secrets)
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s",
                           [connection.connection.info.backend_pid])
            last_statement = cursor.fetchone()[0]
    finally:
        other.close()
    assert "audit_chain_append" in last_statement
    assert not any(s in last_statement for s in secrets)
