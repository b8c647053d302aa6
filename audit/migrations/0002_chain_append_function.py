"""audit_chain_prepare(): take the chain lock and read the head in one round trip.

audit_record needs the lock before it reads the head, and in READ COMMITTED
the read must take its snapshot after the lock is granted. Inside a VOLATILE
plpgsql function each statement takes a fresh snapshot, so lock-then-read is
one call instead of two statements (the recording cost is round trips).
"""

from django.db import migrations

SQL = """
CREATE FUNCTION audit_chain_prepare(at timestamptz, details text, ip text)
RETURNS TABLE (prev_hash varchar, ts timestamptz, ts_text text, details_text text, ip_text text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_hash varchar;
    head_at timestamptz;
BEGIN
    -- Under REPEATABLE READ or SERIALIZABLE the read below would use the
    -- transaction's old snapshot and could fork the chain.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit entries must be written under READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    -- The one lock that serializes appends ("audit_lg"); held to the end of
    -- the caller's transaction, so the next writer reads a committed head.
    PERFORM pg_advisory_xact_lock(7022629598040910951);
    SELECT a.hash, a.created_at INTO head_hash, head_at
        FROM audit_logs a ORDER BY a.created_at DESC, a.id DESC LIMIT 1;
    -- The database clock, strictly after the head: chain order is created_at order.
    ts := GREATEST(COALESCE(at, clock_timestamp()), head_at + interval '1 microsecond');
    prev_hash := head_hash;
    ts_text := to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    -- The database's renderings are what gets hashed (see audit/chain.py).
    details_text := details::jsonb::text;
    ip_text := host(ip::inet);
    RETURN NEXT;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(SQL, "DROP FUNCTION IF EXISTS audit_chain_prepare(timestamptz, text, text);")]
