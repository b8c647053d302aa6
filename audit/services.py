"""Every write to the audit trail goes through ``audit_record``.

Other apps call it from inside their own ``transaction.atomic`` so the entry
commits or rolls back with the change it records. The audit table itself is
append-only (database trigger); nothing here updates or deletes entries.
"""

from __future__ import annotations

import functools
import json
import re
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from audit import context
from audit.chain import LANE_VERSION, VERSION, content, ip_for_entry, jsonb_text, signer
from audit.models import AuditLog
from core.db import run_bound

# One round trip per entry. Python validates the entry, renders its content
# and signs it (audit/chain.py: the key never leaves this process); then
# audit_chain_append (migration 0004) takes the transaction-level advisory
# lock that serializes appends, reads the chain head, stamps created_at from
# the database clock strictly after the head's (chain order == created_at
# order), hashes the link (prev_hash, created_at, content) and inserts. The
# lock is held until the caller's transaction ends, so the next writer reads
# a committed head: concurrent writers never fork the chain, and a rollback
# leaves no gap.

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
LANE_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$|^$")
_RESULTS = frozenset(AuditLog.Result.values)
_LEVELS = frozenset(AuditLog.Level.values)


def audit_record(
    *,
    action: str,
    actor=None,
    acting_for=None,
    org=None,
    resource_type: str = "",
    resource_id: str = "",
    result: str = "success",
    level: str = "info",
    details: dict | None = None,
    lane: str = "",
) -> AuditLog:
    """Append one entry to the audit chain, in the caller's transaction.

    ``actor`` defaults to the current request's authenticated user; request
    id, IP and user agent come from the request context (empty outside one).
    Record late in a transaction: the chain lock is held until it commits.
    ``lane`` (audit.chain, "Lanes"): a chain of its own for a busy stream of
    entries, such as one room's posts; the main chain by default.
    """
    return append_entry(
        action=action, actor=actor, acting_for=acting_for, org=org, resource_type=resource_type,
        resource_id=resource_id, result=result, level=level, details=details, lane=lane,
    )


def append_entry(**fields) -> AuditLog:
    """audit_record's body; ``fields`` as entry_params takes them. ``at``
    (tests and benchmarks only) replaces the database clock; the entry still
    goes strictly after the chain head."""
    params = entry_params(**fields)
    if connection.in_atomic_block:
        # savepoint=False adds no round trips; a failure here marks the
        # caller's transaction for rollback, as it should.
        with transaction.atomic(savepoint=False):
            created_at, prev_hash, hash_hex = _append(params)
    else:
        # Outside atomic (autocommit): the one statement is the entry's own
        # transaction, so BEGIN and COMMIT cost no round trips.
        created_at, prev_hash, hash_hex = _append(params)

    (entry_id, _, actor_id, actor_username, acting_for_id, acting_for_username, org_id, org_name, action,
     resource_type, resource_id, result, level, request_id, ip, user_agent, details_text, _, signature,
     lane) = params
    entry = AuditLog(
        id=entry_id, created_at=created_at, actor_id=actor_id, actor_username=actor_username,
        acting_for_id=acting_for_id, acting_for_username=acting_for_username, org_id=org_id, org_name=org_name,
        action=action, resource_type=resource_type, resource_id=resource_id, result=result, level=level,
        request_id=request_id, ip=ip, user_agent=user_agent, details=json.loads(details_text),
        prev_hash=prev_hash, hash=hash_hex, signature=signature.hex(), lane=lane,
        chain_version=VERSION if not lane else LANE_VERSION,
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


# The argument list of the audit_chain_append() database function (migration
# 0004), in order: (name, SQL type). The one definition of that signature:
# this module's own call renders from it, and so does any database function
# of another app that appends an entry of its own in the same call
# (chatroom's chat_message_post), through append_sql_parameters and
# append_sql_call. entry_params returns the values in this order.
APPEND_ARGS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"), ("at", "timestamptz"),
    ("actor_id", "uuid"), ("actor_username", "text"), ("acting_for_id", "uuid"), ("acting_for_username", "text"),
    ("org_id", "uuid"), ("org_name", "text"), ("action", "text"), ("resource_type", "text"),
    ("resource_id", "text"), ("result", "text"), ("level", "text"), ("request_id", "text"), ("ip", "text"),
    ("user_agent", "text"), ("details", "text"), ("content", "bytea"), ("signature", "bytea"),
    ("lane", "text"),
)
# What a caller passes for "no entry" to a database function that appends
# one only sometimes (a NULL id).
NO_ENTRY = (None,) * len(APPEND_ARGS)


# The helpers below render the current list; a migration that re-creates a
# function as it was at an earlier state passes that state's frozen list
# (``args``), since history must not change when the list does.


def append_sql_placeholders(args=APPEND_ARGS) -> str:
    """audit_chain_append()'s arguments as the typed placeholders of a bound statement."""
    return ", ".join(f"%s::{sql_type}" for _, sql_type in args)


def append_sql_parameters(prefix: str, args=APPEND_ARGS) -> str:
    """The argument list as parameters of a plpgsql function that takes an
    entry's arguments and appends the entry itself; ``prefix`` names them."""
    return ", ".join(f"{prefix}{name} {sql_type}" for name, sql_type in args)


def append_sql_call(prefix: str, args=APPEND_ARGS) -> str:
    """The call of audit_chain_append() inside such a function, passing on
    the parameters that append_sql_parameters(prefix) declared."""
    return "audit_chain_append(" + ", ".join(f"{prefix}{name}" for name, _ in args) + ")"


def append_sql_types(args=APPEND_ARGS) -> str:
    """The argument types alone, as DROP FUNCTION and to_regprocedure name a function."""
    return ", ".join(sql_type for _, sql_type in args)


@functools.lru_cache(maxsize=4)
def _signer(key: str):
    return signer(key.encode())


def entry_params(
    *,
    action: str,
    actor=None,
    acting_for=None,
    org=None,
    resource_type: str = "",
    resource_id: str = "",
    result: str = "success",
    level: str = "info",
    details: dict | None = None,
    lane: str = "",
    at=None,
) -> tuple:
    """Validate an entry, sign its content and return audit_chain_append()'s
    arguments (APPEND_ARGS, in that order): the fields, then the content C the
    database hashes into the chain and its HMAC signature (audit/chain.py).
    Nothing secret is among them."""
    if len(action) > 100 or not ACTION_RE.match(action):
        raise ValueError(f"audit action must be a dotted lower-case code, got {action!r}")
    if result not in _RESULTS:
        raise ValueError(f"audit result must be one of {AuditLog.Result.values}, got {result!r}")
    if level not in _LEVELS:
        raise ValueError(f"audit level must be one of {AuditLog.Level.values}, got {level!r}")
    if not isinstance(lane, str) or not LANE_RE.match(lane):
        raise ValueError(f"an audit lane is empty (the main chain) or a short code, got {lane!r}")

    ctx = context.current()
    if actor is None:
        actor = ctx.user()
    # Plain JSON types first (DjangoJSONEncoder: dates, UUIDs, decimals),
    # then the text PostgreSQL will print for them, which is what is signed.
    details_text = jsonb_text(json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder, ensure_ascii=False)))
    ip, ip_packed = ip_for_entry(ctx.ip)
    entry_id = uuid.uuid4()
    fields = (
        actor.get_username() if actor is not None else "",
        acting_for.get_username() if acting_for is not None else "",
        org.name if org is not None else "",
        action,
        # Metadata too long for its column is cut rather than failing the change it records.
        str(resource_type)[:50], str(resource_id)[:255],
        result, level, ctx.request_id[:100],
    )
    c = content((str(entry_id), *fields, ip_packed, ctx.user_agent, details_text), lane=lane)
    actor_username, acting_for_username, org_name = fields[:3]
    return (
        entry_id, at,
        actor.pk if actor is not None else None, actor_username,
        acting_for.pk if acting_for is not None else None, acting_for_username,
        org.pk if org is not None else None, org_name,
        *fields[3:], ip, ctx.user_agent, details_text,
        c, _signer(settings.AUDIT_HMAC_KEY)(c), lane,
    )


_APPEND_SQL = (
    "SELECT entry_created_at, entry_prev_hash, entry_hash FROM audit_chain_append(" + append_sql_placeholders() + ")"
)


def _append(params) -> tuple:
    return run_bound(_APPEND_SQL, params)
