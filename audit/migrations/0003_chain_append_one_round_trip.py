"""audit_chain_append(): record an entry in one round trip.

0002's audit_chain_prepare took the lock and read the head; Python then hashed,
signed and sent the INSERT: two round trips (four in the caller's own
transaction: BEGIN, prepare, INSERT, COMMIT), which is most of an entry's
cost. This function does all of it in one call, so a service's entry costs one
round trip, and an entry in its own transaction is one autocommit statement.

The hash is computed here with the built-in sha256() (PostgreSQL 11+; no
pgcrypto, which the embedded server lacks), over the same canonical encoding
audit/chain.py defines, of the row's values after they are coerced to the
column types, i.e. exactly what the verifier reads back. array_to_json of a
text[] is compact JSON ("," separators, null for NULL) and PostgreSQL's JSON
string escaping (\\" \\\\ \\b \\f \\n \\r \\t, \\u00xx for other control
characters, everything else verbatim) is the same as Python's json with
ensure_ascii=False; tests/audit/test_record.py pins the two together.

The signature is HMAC-SHA256 (RFC 2104) built from sha256():
H((K ^ opad) || H((K ^ ipad) || hash)). The key is never stored in the
database: the caller passes the two padded key blocks with every call, as
bound parameters (see audit/services.py for why they never enter query text).
"""

from django.db import migrations

# The frozen 0002 definition, to put back on reverse.
PREPARE_0002 = """
CREATE FUNCTION audit_chain_prepare(at timestamptz, details text, ip text)
RETURNS TABLE (prev_hash varchar, ts timestamptz, ts_text text, details_text text, ip_text text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_hash varchar;
    head_at timestamptz;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit entries must be written under READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(7022629598040910951);
    SELECT a.hash, a.created_at INTO head_hash, head_at
        FROM audit_logs a ORDER BY a.created_at DESC, a.id DESC LIMIT 1;
    ts := GREATEST(COALESCE(at, clock_timestamp()), head_at + interval '1 microsecond');
    prev_hash := head_hash;
    ts_text := to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    details_text := details::jsonb::text;
    ip_text := host(ip::inet);
    RETURN NEXT;
END
$$;
"""

APPEND = """
CREATE FUNCTION audit_chain_append(
    p_id uuid, p_at timestamptz,
    p_actor_id uuid, p_actor_username text, p_acting_for_id uuid, p_acting_for_username text,
    p_org_id uuid, p_org_name text, p_action text, p_resource_type text, p_resource_id text,
    p_result text, p_level text, p_request_id text, p_ip text, p_user_agent text, p_details text,
    p_hmac_inner bytea, p_hmac_outer bytea)
RETURNS TABLE (entry_created_at timestamptz, entry_prev_hash text, entry_hash text, entry_signature text,
               entry_details text, entry_ip text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    -- Assigning into the table's row type applies the columns' types (and
    -- varchar lengths) now, so the hash covers exactly the stored values.
    -- A column added to audit_logs later must be assigned below too: fields
    -- left unassigned are inserted as NULL, not as the column default.
    r audit_logs%ROWTYPE;
    head_hash varchar;
    head_at timestamptz;
BEGIN
    -- Under REPEATABLE READ or SERIALIZABLE the head read below would use the
    -- transaction's old snapshot and could fork the chain.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit entries must be written under READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    -- The one lock that serializes appends ("audit_lg", as in 0002); held to
    -- the end of the caller's transaction, so the next writer reads a
    -- committed head, and a rollback takes the entry with it (no gap). Each
    -- statement of a VOLATILE function takes a fresh snapshot, so the read
    -- below sees the head as of after the lock was granted.
    PERFORM pg_advisory_xact_lock(7022629598040910951);
    SELECT a.hash, a.created_at INTO head_hash, head_at
        FROM audit_logs a ORDER BY a.created_at DESC, a.id DESC LIMIT 1;

    r.id := p_id;
    -- The database clock, strictly after the head: chain order is created_at order.
    r.created_at := GREATEST(COALESCE(p_at, clock_timestamp()), head_at + interval '1 microsecond');
    r.actor_id := p_actor_id;
    r.actor_username := p_actor_username;
    r.acting_for_id := p_acting_for_id;
    r.acting_for_username := p_acting_for_username;
    r.org_id := p_org_id;
    r.org_name := p_org_name;
    r.action := p_action;
    r.resource_type := p_resource_type;
    r.resource_id := p_resource_id;
    r.result := p_result;
    r.level := p_level;
    r.request_id := p_request_id;
    r.ip := p_ip::inet;
    r.user_agent := p_user_agent;
    r.details := p_details::jsonb;
    r.prev_hash := COALESCE(head_hash, repeat('0', 64));  -- chain.GENESIS

    -- chain.canonical() of chain.HASHED_COLUMNS, in that order.
    r.hash := encode(sha256(convert_to(array_to_json(ARRAY[
        'v1',
        r.id::text,
        to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.actor_username,
        r.acting_for_username,
        r.org_name,
        r.action,
        r.resource_type,
        r.resource_id,
        r.result,
        r.level,
        r.request_id,
        host(r.ip),
        r.user_agent,
        r.details::text,
        r.prev_hash
    ]::text[])::text, 'UTF8')), 'hex');
    -- HMAC-SHA256(key, hash as ASCII hex), from the caller's padded key blocks.
    r.signature := encode(sha256(p_hmac_outer || sha256(p_hmac_inner || convert_to(r.hash, 'UTF8'))), 'hex');

    INSERT INTO audit_logs SELECT r.*;

    entry_created_at := r.created_at;
    entry_prev_hash := r.prev_hash;
    entry_hash := r.hash;
    entry_signature := r.signature;
    entry_details := r.details::text;
    entry_ip := host(r.ip);
    RETURN NEXT;
END
$$;
"""

APPEND_SIGNATURE = (
    "audit_chain_append(uuid, timestamptz, uuid, text, uuid, text, uuid, text, text, text, text, text, text, "
    "text, text, text, text, bytea, bytea)"
)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_append_function")]

    operations = [
        migrations.RunSQL(APPEND, f"DROP FUNCTION IF EXISTS {APPEND_SIGNATURE};"),
        # One way to append: the two-step path is gone from audit/services.py.
        migrations.RunSQL(
            "DROP FUNCTION IF EXISTS audit_chain_prepare(timestamptz, text, text);", PREPARE_0002
        ),
    ]
