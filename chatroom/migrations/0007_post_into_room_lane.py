"""chat_message_post() passes the entry's lane on to audit_chain_append.

audit 0005 gave the chain lanes and audit_chain_append a last argument,
``lane``: a post's ``message.posted`` entry now goes to its room's lane
(``room:<id>``, chosen by chatroom.services.message_send), so posts in
different rooms no longer wait for one chain lock. The body is 0006's; only
the audit argument list is the newer one (frozen in audit 0005 as ARGS_0005).
"""

import importlib

from django.db import migrations

V6 = importlib.import_module("chatroom.migrations.0006_one_posting_function")
ARGS = importlib.import_module("audit.migrations.0005_chain_lanes").ARGS_0005


class Migration(migrations.Migration):

    dependencies = [
        ("chatroom", "0006_one_posting_function"),
        ("audit", "0005_chain_lanes"),
    ]

    operations = [
        migrations.RunSQL(V6.DROP + V6.post_sql(ARGS), V6.drop_sql(ARGS) + V6.POST),
    ]
