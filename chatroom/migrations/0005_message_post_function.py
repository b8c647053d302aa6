"""chat_message_post(): post a plain message in one statement.

Posting takes two locks until commit: the room's posting lock (so created_at
order is commit order) and the audit chain's (every audited write in the
product waits for it). With a transaction of several round trips, each lock
was held while the server waited for the application to send the next
statement, which under load is what capped posting (bench/ws_fanout.py: at
200 messages/s seven sessions on average stood waiting for an advisory lock,
the holder "idle in transaction"). Inside one function call the locks are
held only for the server's own work.

The function takes the lock, then checks that the membership facts the
caller judged the poster's powers on (chatroom.services) still hold; it does
not judge them itself. It claims the client id (a resend inserts nothing),
reads the room's previous message after the lock (each statement in a
function sees what committed before it), inserts the row built by the caller
with created_at from the clock after the lock, and appends the audit entry
through audit_chain_append with the caller's arguments. The audit arguments
are audit's own definition of that function's argument list
(audit.services.APPEND_ARGS), rendered here.
"""

import importlib

from django.db import migrations

from audit.services import append_sql_call, append_sql_parameters, append_sql_types

# The audit argument list as it was when this migration was written (see audit 0005).
ARGS = importlib.import_module("audit.migrations.0005_chain_lanes").ARGS_0004

POST = """
CREATE FUNCTION chat_message_post(
    p_lock text, p_room uuid, p_user uuid, p_role text, p_permissions jsonb, p_client_id text, p_message jsonb,
    %(audit_parameters)s)
RETURNS TABLE (outcome text, message_created_at timestamptz, prev_created_at timestamptz, prev_id uuid)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r messages;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_lock, 0));
    PERFORM 1 FROM room_members m JOIN chat_rooms c ON c.id = m.room_id
        WHERE m.room_id = p_room AND m.user_id = p_user AND m.role = p_role
          AND m.permissions = p_permissions AND NOT m.is_muted AND NOT c.archived;
    IF NOT FOUND THEN
        outcome := 'changed';
        RETURN NEXT;
        RETURN;
    END IF;
    r := jsonb_populate_record(NULL::messages, p_message);
    r.room_id := p_room;
    r.user_id := p_user;
    r.created_at := clock_timestamp();
    r.updated_at := r.created_at;
    IF p_client_id IS NOT NULL THEN
        INSERT INTO message_client_ids (user_id, client_id, message_id, message_created_at, created_at)
            VALUES (p_user, p_client_id, r.id, r.created_at, now())
            ON CONFLICT (user_id, client_id) DO NOTHING;
        IF NOT FOUND THEN
            outcome := 'duplicate';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    SELECT m.created_at, m.id INTO prev_created_at, prev_id FROM messages m
        WHERE m.room_id = p_room AND m.created_at <= r.created_at
        ORDER BY m.created_at DESC, m.id DESC LIMIT 1;
    INSERT INTO messages SELECT r.*;
    PERFORM %(audit_call)s;
    outcome := 'posted';
    message_created_at := r.created_at;
    RETURN NEXT;
END
$$;
""" % {"audit_parameters": append_sql_parameters("a_", ARGS), "audit_call": append_sql_call("a_", ARGS)}

DROP = "DROP FUNCTION chat_message_post(text, uuid, uuid, text, jsonb, text, jsonb, %s);" % append_sql_types(ARGS)


class Migration(migrations.Migration):

    dependencies = [
        ("chatroom", "0004_message_insert_cost"),
        ("audit", "0003_chain_append_one_round_trip"),
    ]

    operations = [migrations.RunSQL(POST, DROP)]
