"""System checks. chatroom.E001: the posting function in the database was
rendered from the definitions the code holds now.

chat_message_post (migration 0006) judges "post" by chatroom.permissions'
rule (and, from 0009, the DM block rule) and appends audit entries with
audit's argument list, all rendered
into it when the migration ran. A later change to either is live in Python
at once, but in the database only once a migration re-creates the function;
until then this check fails (``manage.py check --database default``)."""

from __future__ import annotations

from django.core import checks
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from audit.services import append_sql_call
from chatroom.permissions import blocked_poster_sql, power_sql


def rendered_parts() -> list[str]:
    """What chat_message_post's body must contain, rendered from the code."""
    return [power_sql("post", role="v_role", permissions="v_permissions"), append_sql_call("a_"),
            blocked_poster_sql(room="p_room", user="p_user")]


def _migrated(alias: str) -> bool:
    """Whether chat's latest migration is applied (``migrate`` runs this
    check before it applies the migration that would re-create the function)."""
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    return all(key in loader.applied_migrations for key in loader.graph.leaf_nodes("chatroom"))


def deployed_definitions(alias: str = "default") -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname = 'chat_message_post'")
        return [row[0] for row in cursor.fetchall()]


@checks.register(checks.Tags.database)
def posting_function_check(app_configs=None, databases=None, **kwargs):
    errors = []
    for alias in databases or ():
        if not _migrated(alias):
            continue  # migrate is about to (re-)create it from the current code
        found = deployed_definitions(alias)
        if len(found) != 1 or any(part not in found[0] for part in rendered_parts()):
            errors.append(checks.Error(
                "chat_message_post in the database does not match chatroom.permissions' rule for posting "
                "or audit's argument list as the code has them now.",
                hint="Add a migration that re-creates chat_message_post (see chatroom/migrations/0006).",
                id="chatroom.E001",
            ))
    return errors
