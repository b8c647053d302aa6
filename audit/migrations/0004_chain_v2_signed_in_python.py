"""Chain format 2: the key stays in the application (see audit/chain.py).

Format 1's audit_chain_append (0003) computed each entry's HMAC in SQL from
key blocks passed with every call, so statement logging with parameters, or a
replaced function, handed the key to a database superuser: the person the
chain exists to catch. From here on the application signs each entry's
content in Python before the INSERT and sends the content C and its
signature; the database only chains: it stamps created_at under the chain
lock and stores hash = SHA-256(prev_hash "\\n" created_at "\\n" C), as it
alone knows both. It also refuses details sent in any other text than
PostgreSQL's own rendering of them, which is what was signed.

Existing entries stay as they are and are marked ``chain_version = 1``; the
verifier checks them by format 1's rules (audit/chain.py), and the chain runs
on through the change: the first format 2 entry links to the last format 1
hash.

The function keeps 0003's argument types, in the same places (the last two
bytea arguments are now C and the raw signature), so chat_message_post
(chatroom migration 0005), which passes audit.services.entry_params()
through to it, works unchanged.
"""

import importlib

from django.db import migrations, models

V1 = importlib.import_module("audit.migrations.0003_chain_append_one_round_trip")

APPEND = """
CREATE FUNCTION audit_chain_append(
    p_id uuid, p_at timestamptz,
    p_actor_id uuid, p_actor_username text, p_acting_for_id uuid, p_acting_for_username text,
    p_org_id uuid, p_org_name text, p_action text, p_resource_type text, p_resource_id text,
    p_result text, p_level text, p_request_id text, p_ip text, p_user_agent text, p_details text,
    p_content bytea, p_signature bytea)
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
    -- The content was signed with the details as the application predicted
    -- PostgreSQL prints them (chain.jsonb_text); an entry whose stored
    -- rendering differs could never verify, so it is refused here.
    IF r.details::text IS DISTINCT FROM p_details THEN
        RAISE EXCEPTION 'audit details are not in their JSONB rendering: %', left(p_details, 200)
            USING ERRCODE = 'data_exception';
    END IF;
    r.prev_hash := COALESCE(head_hash, repeat('0', 64));  -- chain.GENESIS
    r.chain_version := 2;
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

DROP = f"DROP FUNCTION IF EXISTS {V1.APPEND_SIGNATURE};"


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_chain_append_one_round_trip"),
    ]

    operations = [
        # Every entry so far is format 1; the model's default is the current format.
        migrations.AddField(
            model_name="auditlog",
            name="chain_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="chain_version",
            field=models.PositiveSmallIntegerField(default=2),
        ),
        # The same argument types, so DROP and CREATE (a changed result type
        # and argument names rule out CREATE OR REPLACE).
        migrations.RunSQL(DROP + APPEND, DROP + V1.APPEND),
    ]
