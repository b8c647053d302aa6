"""Lanes: a room's posts are chained on their own (audit/chain.py, "Lanes").

Every append took the one chain lock (0004) and held it through its commit's
WAL flush, so all the appends in the system took turns: at a few hundred
posts a second the posting path queued behind that lock while the servers
sat half idle. Now audit_chain_append takes a lane: "" is the main chain,
with 0004's lock and rules unchanged; any other lane has a lock and a head
of its own, and its entries are format 3, whose signed content (computed by
the caller) names the lane.

The argument list grows by ``p_lane`` at the end. ``ARGS_0004`` is the list
0004 created and ``ARGS_0005`` this one's, frozen here: a migration renders
a function that appends entries from the list of its own time (chatroom
0005 and 0006 from the first, 0007 from the second), never from the current
one, so history does not change when the list does.
"""

import importlib

from django.db import migrations, models

V2 = importlib.import_module("audit.migrations.0004_chain_v2_signed_in_python")

ARGS_0004 = (
    ("id", "uuid"), ("at", "timestamptz"),
    ("actor_id", "uuid"), ("actor_username", "text"), ("acting_for_id", "uuid"), ("acting_for_username", "text"),
    ("org_id", "uuid"), ("org_name", "text"), ("action", "text"), ("resource_type", "text"),
    ("resource_id", "text"), ("result", "text"), ("level", "text"), ("request_id", "text"), ("ip", "text"),
    ("user_agent", "text"), ("details", "text"), ("content", "bytea"), ("signature", "bytea"),
)
# The list this migration creates (audit.services.APPEND_ARGS when it was written).
ARGS_0005 = ARGS_0004 + (("lane", "text"),)
SIGNATURE_0004 = "audit_chain_append(" + ", ".join(t for _, t in ARGS_0004) + ")"
SIGNATURE = "audit_chain_append(" + ", ".join(t for _, t in ARGS_0005) + ")"

APPEND = """
CREATE FUNCTION audit_chain_append(
    p_id uuid, p_at timestamptz,
    p_actor_id uuid, p_actor_username text, p_acting_for_id uuid, p_acting_for_username text,
    p_org_id uuid, p_org_name text, p_action text, p_resource_type text, p_resource_id text,
    p_result text, p_level text, p_request_id text, p_ip text, p_user_agent text, p_details text,
    p_content bytea, p_signature bytea, p_lane text)
RETURNS TABLE (entry_created_at timestamptz, entry_prev_hash text, entry_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
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
    IF p_lane IS NULL THEN
        RAISE EXCEPTION 'an audit lane is "" (the main chain) or a name, not NULL';
    END IF;
    -- The lock that serializes appends to this lane ("audit_lg" for the main
    -- chain, as in 0002), held to the end of the caller's transaction, so
    -- the next writer reads a committed head and a rollback takes the entry
    -- with it (no gap). Two lanes whose names hash alike share a lock: they
    -- only wait for each other. Each statement of a VOLATILE function takes
    -- a fresh snapshot, so the read below sees the head as of after the lock.
    IF p_lane = '' THEN
        PERFORM pg_advisory_xact_lock(7022629598040910951);
    ELSE
        PERFORM pg_advisory_xact_lock(hashtextextended('audit.lane.' || p_lane, 0));
    END IF;
    SELECT a.hash, a.created_at INTO head_hash, head_at
        FROM audit_logs a WHERE a.lane = p_lane ORDER BY a.created_at DESC, a.id DESC LIMIT 1;

    r.id := p_id;
    -- The database clock, strictly after the lane's head: a lane's order is its created_at order.
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
    -- The content was signed with the details as the application predicted
    -- PostgreSQL prints them (chain.jsonb_text); an entry whose stored
    -- rendering differs could never verify, so it is refused here.
    IF r.details::text IS DISTINCT FROM p_details THEN
        RAISE EXCEPTION 'audit details are not in their JSONB rendering: %', left(p_details, 200)
            USING ERRCODE = 'data_exception';
    END IF;
    r.prev_hash := COALESCE(head_hash, repeat('0', 64));  -- chain.GENESIS
    r.lane := p_lane;
    -- chain.VERSION on the main chain, chain.LANE_VERSION in a lane: the
    -- caller rendered C with the lane exactly when there is one.
    r.chain_version := CASE WHEN p_lane = '' THEN 2 ELSE 3 END;
    -- chain.link_hash(): the link and time only the database knows, then C.
    r.hash := encode(sha256(convert_to(
        r.prev_hash || chr(10) || to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || chr(10),
        'UTF8') || p_content), 'hex');
    r.signature := encode(p_signature, 'hex');

    INSERT INTO audit_logs SELECT r.*;

    entry_created_at := r.created_at;
    entry_prev_hash := r.prev_hash;
    entry_hash := r.hash;
    RETURN NEXT;
END
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0004_chain_v2_signed_in_python"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="lane",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditlog",
            index=models.Index(fields=["lane", "created_at", "id"], name="idx_audit_logs_lane"),
        ),
        # The function reads r.lane: the column comes first. A new argument
        # means DROP and CREATE (CREATE OR REPLACE cannot change the list).
        migrations.RunSQL(f"DROP FUNCTION {SIGNATURE_0004};" + APPEND,
                          f"DROP FUNCTION {SIGNATURE};" + V2.APPEND),
    ]
