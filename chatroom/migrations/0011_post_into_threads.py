"""chat_message_post() stores thread replies (issue 16), so posting keeps one
path and one clock.

The body is 0009's with these additions:

- a message whose row names ``thread_id`` is a reply in that thread: the
  root must be a message of the same room (else ``no_thread``) that is not
  itself a reply in a thread (else ``thread_reply``: a reply cannot start
  another thread). A deleted root still takes replies, as its thread stays
  readable. ``thread_created_at`` is taken from the root, and returned;
  ``also_to_room`` is kept only on a thread reply;
- after the insert, under the same posting lock, the thread's summary
  (chat_threads: reply count, last reply time, participants) is updated, and
  the following rules applied (thread_follows): the poster follows and has
  read up to their own reply, everyone mentioned follows, and the root's
  author follows unless they chose otherwise or left the room.

The return type gains a column, so the function is dropped and created.
"""

import importlib

from django.db import migrations

V6 = importlib.import_module("chatroom.migrations.0006_one_posting_function")
V9 = importlib.import_module("chatroom.migrations.0009_post_refuses_blocked")
ARGS = V9.ARGS
_once = V9._once

TEMPLATE = V9.TEMPLATE
TEMPLATE = _once(TEMPLATE, "reply_to_created_at timestamptz, org_id uuid, org_name text)",
                 "reply_to_created_at timestamptz, org_id uuid, org_name text, thread_created_at timestamptz)")
TEMPLATE = _once(TEMPLATE, "    v_kind text;\n", "    v_kind text;\n    v_root_thread uuid;\n    v_root_user uuid;\n")
TEMPLATE = _once(TEMPLATE, """            outcome := 'no_reply'; RETURN NEXT; RETURN;
        END IF;
    END IF;
""", """            outcome := 'no_reply'; RETURN NEXT; RETURN;
        END IF;
    END IF;
    r.thread_created_at := NULL;
    IF r.thread_id IS NOT NULL THEN
        SELECT x.created_at, x.thread_id, x.user_id INTO r.thread_created_at, v_root_thread, v_root_user
            FROM messages x WHERE x.room_id = p_room AND x.id = r.thread_id;
        IF NOT FOUND THEN
            outcome := 'no_thread'; RETURN NEXT; RETURN;
        END IF;
        IF v_root_thread IS NOT NULL THEN
            outcome := 'thread_reply'; RETURN NEXT; RETURN;
        END IF;
    ELSE
        r.also_to_room := false;
    END IF;
""")
TEMPLATE = _once(TEMPLATE, """    INSERT INTO messages SELECT r.*;
""", """    INSERT INTO messages SELECT r.*;
    IF r.thread_id IS NOT NULL THEN
        INSERT INTO chat_threads AS t (root_id, root_created_at, room_id, reply_count, last_reply_at, participants)
            VALUES (r.thread_id, r.thread_created_at, p_room, 1, r.created_at, ARRAY[p_user])
            ON CONFLICT (root_id) DO UPDATE SET reply_count = t.reply_count + 1, last_reply_at = EXCLUDED.last_reply_at,
                participants = CASE WHEN p_user = ANY(t.participants) THEN t.participants
                                    ELSE t.participants || p_user END;
        INSERT INTO thread_follows AS f (user_id, root_id, root_created_at, room_id, following,
                                         last_read_message_id, last_read_at, created_at)
            VALUES (p_user, r.thread_id, r.thread_created_at, p_room, true, r.id, r.created_at, now())
            ON CONFLICT (user_id, root_id) DO UPDATE SET following = true,
                last_read_message_id = EXCLUDED.last_read_message_id, last_read_at = EXCLUDED.last_read_at;
        IF cardinality(p_mentions) > 0 THEN
            INSERT INTO thread_follows AS f (user_id, root_id, root_created_at, room_id, following, created_at)
                SELECT u.id, r.thread_id, r.thread_created_at, p_room, true, now() FROM unnest(p_mentions) AS u(id)
                ON CONFLICT (user_id, root_id) DO UPDATE SET following = true;
        END IF;
        INSERT INTO thread_follows AS f (user_id, root_id, root_created_at, room_id, following, created_at)
            SELECT v_root_user, r.thread_id, r.thread_created_at, p_room, true, now()
            WHERE v_root_user <> p_user
              AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = p_room AND rm.user_id = v_root_user)
            ON CONFLICT (user_id, root_id) DO UPDATE SET following = true WHERE f.following IS NULL;
    END IF;
""")
TEMPLATE = _once(TEMPLATE, "    reply_to_created_at := r.reply_to_created_at;\n",
                 "    reply_to_created_at := r.reply_to_created_at;\n    thread_created_at := r.thread_created_at;\n")


def post_sql(audit_args) -> str:
    return TEMPLATE % {
        "audit_parameters": V6.append_sql_parameters("a_", audit_args),
        "audit_call": V6.append_sql_call("a_", audit_args),
        "can_post": V6.power_sql("post", role="v_role", permissions="v_permissions"),
        "blocked": V9.blocked_poster_sql(room="p_room", user="p_user"),
    }


class Migration(migrations.Migration):

    dependencies = [
        ("chatroom", "0010_threads"),
    ]

    operations = [
        migrations.RunSQL(V6.drop_sql(ARGS) + post_sql(ARGS), V6.drop_sql(ARGS) + V9.post_sql(ARGS)),
    ]
