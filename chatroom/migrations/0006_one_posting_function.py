"""chat_message_post(): the one way a message is stored, whatever its kind.

0005's function took plain messages only, and rechecked membership facts the
application had judged from a cached row; replies, mentions, attachments and
system messages took another path, stamped by the application server's clock.
A reply could sort before the message it answered when that server's clock
ran behind the database's, and a reader paging with ``after=<cursor>`` missed
it. The posting rules were written twice (Python and SQL).

Now every message goes through this function, and it alone judges a post:

1. It takes the room's posting lock, to the end of the caller's transaction.
   created_at is taken under it from the database clock, so created_at
   order is commit order, one clock for every app host.
2. With ``p_judge`` (every post a user makes; not the system messages that
   services post about members joining, leaving or being removed, which
   those services authorised), it reads the poster's membership and the room
   as they are now and refuses, in this order: not a member, the room is
   archived, no "post" power (role and overrides, rendered from
   chatroom.permissions.power_sql), muted.
3. The caller signed the audit entry with the room's org (id and name) as it
   last saw them; if they changed, it answers ``stale`` with the current
   ones, and the caller signs again.
4. A reply must name a message of the room that is not deleted; attachments
   must be the poster's own uploads, not yet linked (locked until commit).
5. It claims the client id (a resend inserts nothing and answers
   ``duplicate``), reads the room's previous message (for the socket's
   gap check), inserts the row, links the attachments, stores the mentions,
   and appends the audit entry (audit's own argument list,
   audit.services.APPEND_ARGS, rendered here), unless no entry is wanted.

The outcome is one word; chatroom.services.message_send maps it onto the
API's error codes. Nothing is written unless the outcome is ``posted``.

The power rule and the audit arguments are rendered when this migration
runs: a later change to either needs a migration that re-creates the
function. Until one does, the system check chatroom.E001 (``manage.py check
--database default``) reports a database whose function was rendered from
other definitions.
"""

import importlib

from django.db import migrations

from audit.services import append_sql_call, append_sql_parameters, append_sql_types

# The audit argument list as it was when this migration was written (see audit 0005).
ARGS = importlib.import_module("audit.migrations.0005_chain_lanes").ARGS_0004
from chatroom.permissions import power_sql

V5 = importlib.import_module("chatroom.migrations.0005_message_post_function")

ARGUMENTS = "uuid, uuid, boolean, text, jsonb, uuid[], uuid[]"

POST_TEMPLATE = """
CREATE FUNCTION chat_message_post(
    p_room uuid, p_user uuid, p_judge boolean, p_client_id text, p_message jsonb,
    p_attachments uuid[], p_mentions uuid[],
    %(audit_parameters)s)
RETURNS TABLE (outcome text, message_created_at timestamptz, prev_created_at timestamptz, prev_id uuid,
               reply_to_created_at timestamptz, org_id uuid, org_name text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r messages;
    v_role text;
    v_permissions jsonb;
    v_muted boolean;
    v_archived boolean;
    v_found integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('chat.post.' || p_room::text, 0));
    -- Each statement of a VOLATILE function sees what committed before it
    -- ran: this is the membership and the room as of after the lock.
    SELECT m.role, m.permissions, m.is_muted, c.archived, c.org_id, COALESCE(o.name, '')
        INTO v_role, v_permissions, v_muted, v_archived, org_id, org_name
        FROM chat_rooms c
        LEFT JOIN room_members m ON m.room_id = c.id AND m.user_id = p_user
        LEFT JOIN organizations o ON o.id = c.org_id
        WHERE c.id = p_room;
    IF p_judge THEN
        IF v_role IS NULL THEN
            outcome := 'not_member'; RETURN NEXT; RETURN;
        END IF;
        IF v_archived THEN
            outcome := 'archived'; RETURN NEXT; RETURN;
        END IF;
        IF NOT %(can_post)s THEN
            outcome := 'forbidden'; RETURN NEXT; RETURN;
        END IF;
        IF v_muted THEN
            outcome := 'muted'; RETURN NEXT; RETURN;
        END IF;
    END IF;
    IF a_id IS NOT NULL AND (org_id IS DISTINCT FROM a_org_id OR org_name IS DISTINCT FROM a_org_name) THEN
        outcome := 'stale'; RETURN NEXT; RETURN;
    END IF;

    r := jsonb_populate_record(NULL::messages, p_message);
    r.room_id := p_room;
    r.user_id := p_user;
    r.reply_to_created_at := NULL;
    IF r.reply_to_id IS NOT NULL THEN
        SELECT x.created_at INTO r.reply_to_created_at FROM messages x
            WHERE x.room_id = p_room AND x.id = r.reply_to_id AND NOT x.is_deleted;
        IF NOT FOUND THEN
            outcome := 'no_reply'; RETURN NEXT; RETURN;
        END IF;
    END IF;
    IF cardinality(p_attachments) > 0 THEN
        SELECT count(*) INTO v_found FROM (
            SELECT 1 FROM attachments a
            WHERE a.id = ANY(p_attachments) AND a.uploader_id = p_user AND a.message_id IS NULL
            FOR UPDATE) mine;
        IF v_found <> cardinality(p_attachments) THEN
            outcome := 'bad_attachments'; RETURN NEXT; RETURN;
        END IF;
    END IF;

    r.created_at := clock_timestamp();
    r.updated_at := r.created_at;
    IF p_client_id IS NOT NULL THEN
        -- The claim's foreign key to the message is checked at commit (0004).
        INSERT INTO message_client_ids (user_id, client_id, message_id, message_created_at, created_at)
            VALUES (p_user, p_client_id, r.id, r.created_at, now())
            ON CONFLICT (user_id, client_id) DO NOTHING;
        IF NOT FOUND THEN
            outcome := 'duplicate'; RETURN NEXT; RETURN;
        END IF;
    END IF;
    SELECT x.created_at, x.id INTO prev_created_at, prev_id FROM messages x
        WHERE x.room_id = p_room AND x.created_at <= r.created_at
        ORDER BY x.created_at DESC, x.id DESC LIMIT 1;
    INSERT INTO messages SELECT r.*;
    IF cardinality(p_attachments) > 0 THEN
        UPDATE attachments a SET message_id = r.id, message_created_at = r.created_at, room_id = p_room
            WHERE a.id = ANY(p_attachments);
    END IF;
    IF cardinality(p_mentions) > 0 THEN
        INSERT INTO message_mentions (message_id, message_created_at, room_id, user_id)
            SELECT r.id, r.created_at, p_room, u.id FROM unnest(p_mentions) AS u(id)
            ON CONFLICT DO NOTHING;
    END IF;
    IF a_id IS NOT NULL THEN
        PERFORM %(audit_call)s;
    END IF;
    outcome := 'posted';
    message_created_at := r.created_at;
    reply_to_created_at := r.reply_to_created_at;
    RETURN NEXT;
END
$$;
"""


def post_sql(audit_args) -> str:
    """The function, with the audit arguments of one state of audit_chain_append."""
    return POST_TEMPLATE % {
        "audit_parameters": append_sql_parameters("a_", audit_args),
        "audit_call": append_sql_call("a_", audit_args),
        "can_post": power_sql("post", role="v_role", permissions="v_permissions"),
    }


def drop_sql(audit_args) -> str:
    return f"DROP FUNCTION chat_message_post({ARGUMENTS}, {append_sql_types(audit_args)});"


POST = post_sql(ARGS)
DROP = drop_sql(ARGS)


class Migration(migrations.Migration):

    dependencies = [
        ("chatroom", "0005_message_post_function"),
        ("audit", "0004_chain_v2_signed_in_python"),
    ]

    operations = [
        migrations.RunSQL(V5.DROP, V5.POST),
        migrations.RunSQL(POST, DROP),
    ]
