"""chat_message_post() refuses a post in a DM whose other person blocked the
poster: outcome ``blocked`` (403 ``blocked`` on the API, an ``error`` frame
on the socket).

The body is 0006's with the audit arguments of 0007 (audit 0005's
ARGS_0005), and two additions: the room's kind is read with the membership,
and, while judging, after "muted", a DM poster blocked by the other member
is refused. The rule is chatroom.permissions.blocked_poster_sql, rendered
here; chatroom.checks (E001) reports a database whose function lacks it.
"""

import importlib

from django.db import migrations

from chatroom.permissions import blocked_poster_sql

V6 = importlib.import_module("chatroom.migrations.0006_one_posting_function")
ARGS = importlib.import_module("audit.migrations.0005_chain_lanes").ARGS_0005


def _once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


TEMPLATE = V6.POST_TEMPLATE
TEMPLATE = _once(TEMPLATE, "    v_archived boolean;\n", "    v_archived boolean;\n    v_kind text;\n")
TEMPLATE = _once(TEMPLATE, "c.archived, c.org_id, COALESCE(o.name, '')\n        INTO v_role, v_permissions, v_muted, v_archived, org_id, org_name",
                 "c.archived, c.org_id, COALESCE(o.name, ''), c.kind\n"
                 "        INTO v_role, v_permissions, v_muted, v_archived, org_id, org_name, v_kind")
TEMPLATE = _once(TEMPLATE, """        IF v_muted THEN
            outcome := 'muted'; RETURN NEXT; RETURN;
        END IF;
""", """        IF v_muted THEN
            outcome := 'muted'; RETURN NEXT; RETURN;
        END IF;
        IF v_kind = 'dm' THEN
            IF %(blocked)s THEN
                outcome := 'blocked'; RETURN NEXT; RETURN;
            END IF;
        END IF;
""")


def post_sql(audit_args) -> str:
    parts = {
        "audit_parameters": V6.append_sql_parameters("a_", audit_args),
        "audit_call": V6.append_sql_call("a_", audit_args),
        "can_post": V6.power_sql("post", role="v_role", permissions="v_permissions"),
        "blocked": blocked_poster_sql(room="p_room", user="p_user"),
    }
    return TEMPLATE % parts


class Migration(migrations.Migration):

    dependencies = [
        ("chatroom", "0008_dms"),
    ]

    operations = [
        migrations.RunSQL(V6.drop_sql(ARGS) + post_sql(ARGS), V6.drop_sql(ARGS) + V6.post_sql(ARGS)),
    ]
