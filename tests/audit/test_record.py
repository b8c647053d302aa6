"""audit_record: the fields, the chain, the transaction, append-only."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.chain import GENESIS, row_checker, row_hash
from audit.context import AuditContext, use_context
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import verify
from orgs.models import Organization
from tests.audit.conftest import stored_row

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
    assert (stored.hash, stored.signature, stored.chain_version) == (entry.hash, entry.signature, 2)
    # Hash and signature are what the fields give, read back from the database.
    assert row_checker()(stored_row(entry.pk)) == (stored.hash, stored.signature)


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


@pytest.mark.parametrize("details", [
    # JSONB keeps the value but not the text: key order, spacing, numbers.
    {"z": 1e20, "a": [1.50, "ü", {"b": None}], "big": 2**70},
    {"neg_zero": -0.0, "e16": 1e16, "e_plus": -1.2345678901234567e+20, "tiny": 1e-7, "subnormal": 5e-324},
    {"huge": 1.5e300, "exact": 12345678901234567890, "float": 1234567890123456.0, "ints": [0, -1, 10**40]},
    {1: "int key", "1": "same key as text, last wins", "tuple": (1, 2), "nested": {"b": {"a": [{}]}}},
    {"uuid": __import__("uuid").UUID(int=7), "when": __import__("datetime").date(2026, 1, 2)},
])
def test_details_that_jsonb_normalizes_still_verify(details):
    # Signed before the INSERT, so what Python signs must be what the
    # verifier derives from what JSONB gives back.
    entry = audit_record(action="test.json", details=details)
    assert AuditLog.objects.get(pk=entry.pk).details == entry.details
    assert verify().ok


def random_json(rng, depth=0):
    """A random JSON value of every kind, numbers at every scale."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-10**rng.randrange(1, 40), 10**rng.randrange(1, 40))
    if kind == 2:
        return rng.uniform(-1, 1) * 10.0 ** rng.randrange(-320, 300)
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.0, 1e16, 1e15, 0.1, 5e-324, 1.7976931348623157e308, 2.5e-5])
    if kind in (4, 5):
        return "".join(chr(rng.choice([rng.randrange(1, 128), rng.randrange(128, 0xD800),
                                       rng.randrange(0xE000, 0x110000)])) for _ in range(rng.randrange(8)))
    if kind in (6, 7):
        return {"".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(5))): random_json(rng, depth + 1)
                for _ in range(rng.randrange(5))}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_jsonb_text_is_what_postgresql_prints():
    # The writer signs its prediction of details::text; it must be exact.
    import json
    import random

    from audit.chain import jsonb_text

    rng = random.Random(14)
    values = [random_json(rng) for _ in range(400)] + [
        {"": 1, "a": 2, "aa": 3, "b": 4, "é": 5, "z": 6, "zz": {"y": [], "x": {}}},  # JSONB's key order
        {"ctrl": "".join(map(chr, range(1, 32))) + '"\\/\x7f\u2028'},
    ]
    with connection.cursor() as cursor:
        for value in values:
            # What the writer sends is plain JSON: through json, as entry_params does.
            plain = json.loads(json.dumps(value))
            cursor.execute("SELECT %s::jsonb::text", [json.dumps(plain)])
            assert jsonb_text(plain) == cursor.fetchone()[0], plain


def test_the_database_refuses_details_not_in_their_jsonb_rendering():
    from audit.services import _append, entry_params

    params = list(entry_params(action="test.json", details={"b": 1, "a": 2}))
    assert params[16] == '{"a": 2, "b": 1}'
    params[16] = '{"b": 1, "a": 2}'  # the same value, another text: it could never verify
    with pytest.raises(DatabaseError, match="JSONB rendering"), transaction.atomic():
        _append(params)
    assert not AuditLog.objects.filter(action="test.json").exists()


def test_details_jsonb_cannot_hold_are_refused_before_anything_is_written():
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            audit_record(action="test.json", details={"x": bad})
    assert not AuditLog.objects.filter(action="test.json").exists()


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


def test_the_encoding_is_pinned_so_exports_can_be_reverified_with_any_json_library(settings):
    # Format 2 (audit/chain.py) spelled out with the standard library only.
    import hashlib
    import hmac
    import ipaddress
    import json

    with use_context(AuditContext(request_id="req-9", ip="::ffff:10.1.2.3", user_agent="ua")):
        entry = audit_record(action="test.enc", resource_type="thing", resource_id="7",
                             details={"q": 'a"b\\c\nd\x01é', "n": 1.50, "a": [2]})
    row = stored_row(entry.pk)
    (_, entry_id, created_at, actor_username, acting_for_username, org_name, action, resource_type, resource_id,
     result, level, request_id, ip, user_agent, details, prev_hash, stored_hash, signature, lane) = row
    assert lane == ""  # the main chain: format 2
    assert ip == "::ffff:10.1.2.3"
    assert details.startswith('{"a": [2], "n": 1.5, "q": ') and json.loads(details)["q"] == 'a"b\\c\nd\x01é'
    content = json.dumps(
        ["v2", entry_id, actor_username, acting_for_username, org_name, action, resource_type, resource_id,
         result, level, request_id, ipaddress.ip_address(ip).packed.hex(), user_agent,
         details],
        separators=(",", ":"), ensure_ascii=False,
    ).encode()
    assert content.startswith(b'["v2","') and b'"00000000000000000000ffff0a010203"' in content
    assert signature == hmac.new(settings.AUDIT_HMAC_KEY.encode(), content, "sha256").hexdigest()
    assert stored_hash == hashlib.sha256(f"{prev_hash}\n{created_at}\n".encode() + content).hexdigest()


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
@pytest.mark.parametrize("ip", ["2001:DB8::0:1", "::1.2.3.4", "fe80::1%eth0", "192.168.0.1"])
def test_the_python_signer_the_database_chainer_and_the_verifier_agree(make_user, settings, key, ip):
    # The content is signed in Python before the INSERT, hashed into the
    # chain by audit_chain_append in SQL, and both are recomputed by the
    # verifier from the stored row: all three must see the same bytes.
    import hmac

    settings.AUDIT_HMAC_KEY = key
    actor = make_user("awkward")
    org = Organization.objects.create(owner=actor, name="acme")
    with use_context(AuditContext(request_id=AWKWARD[:100], ip=ip, user_agent=AWKWARD)):
        entry = audit_record(
            action="test.awkward", actor=actor, org=org, resource_type=AWKWARD, resource_id=AWKWARD,
            details={AWKWARD: [AWKWARD, 1.0, 1e-7, 2**70, None, True]},
        )
    row = stored_row(entry.pk)
    assert row[8] == AWKWARD[:255]
    assert row_checker(key.encode())(row) == (entry.hash, entry.signature)
    assert row_hash(row) == AuditLog.objects.get(pk=entry.pk).hash
    assert entry.signature == hmac.new(key.encode(), row_content(row), "sha256").hexdigest()
    assert verify().ok


def row_content(row):
    from audit.chain import content, packed_ip

    return content((row[1], *row[3:12], packed_ip(row[12]), row[13], row[14]))


def test_the_fast_signer_is_rfc_2104_hmac():
    import hmac

    from audit.chain import signer

    for key in (b"k" * 32, b"k" * 64, b"x" * 65, "ключ".encode() * 20):
        for message in (b"", b"m", b"m" * 1000):
            assert signer(key)(message) == hmac.digest(key, message, "sha256")


def test_a_missing_ip_is_signed_as_null():
    entry = audit_record(action="test.no_ip")
    row = stored_row(entry.pk)
    assert row[12] is None and entry.ip is None
    assert b',null,' in row_content(row)
    assert row_checker()(row) == (entry.hash, entry.signature)


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
def test_the_signing_key_never_reaches_the_database(settings):
    # Nothing derived from the key but the signature itself goes to
    # PostgreSQL: not the key, nor the HMAC key blocks format 1 sent (in its
    # bound parameters, where statement logging captured them).
    from django.test.utils import CaptureQueriesContext

    from audit.chain import hmac_key, hmac_pads
    from audit.services import entry_params

    key = hmac_key()
    secrets = [key, key.hex().encode(), *hmac_pads(key), *(block.hex().encode() for block in hmac_pads(key))]

    def leaks(value) -> bool:
        data = value if isinstance(value, bytes) else str(value).encode()
        return any(secret in data for secret in secrets)

    params = entry_params(action="test.secret", details={"note": "hello"})
    assert not any(leaks(p) for p in params)
    with CaptureQueriesContext(connection) as captured:
        entry = audit_record(action="test.secret")
    assert not any(leaks(q["sql"]) for q in captured.captured_queries)
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s",
                           [connection.connection.info.backend_pid])
            last_statement = cursor.fetchone()[0]
            # Nor does any function in the database hold it.
            cursor.execute("SELECT count(*) FROM pg_proc WHERE strpos(prosrc, %s) > 0", [settings.AUDIT_HMAC_KEY])
            functions_with_key = cursor.fetchone()[0]
    finally:
        other.close()
    assert "audit_chain_append" in last_statement and not leaks(last_statement)
    assert functions_with_key == 0
    assert AuditLog.objects.get(pk=entry.pk).chain_version == 2
