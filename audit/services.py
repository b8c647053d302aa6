"""Every write to the audit trail goes through ``audit_record``.

Other apps call it from inside their own ``transaction.atomic`` so the entry
commits or rolls back with the change it records. The audit table itself is
append-only (database trigger); nothing here updates or deletes entries.
"""

from __future__ import annotations

import json
import re
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from audit import context
from audit.chain import GENESIS, entry_hash, sign
from audit.models import AuditLog

# Appends are serialized by a transaction-level advisory lock, taken inside
# the database function audit_chain_prepare (migration 0002) together with the
# read of the chain head, in one round trip. The lock is held until the
# caller's transaction ends, so the next writer reads a committed head:
# concurrent writers never fork the chain, and a rollback leaves no gap. The
# function also stamps created_at from the database clock, strictly after the
# head's (chain order == created_at order), and returns the database's text
# renderings of created_at, details and ip, which are what gets hashed.
_PREPARE_SQL = "SELECT prev_hash, ts, ts_text, details_text, ip_text FROM audit_chain_prepare(%s, %s, %s)"

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")

_INSERT_COLUMNS = (
    "id", "created_at", "actor_id", "actor_username", "acting_for_id", "acting_for_username", "org_id", "org_name",
    "action", "resource_type", "resource_id", "result", "level", "request_id", "ip", "user_agent", "details",
    "prev_hash", "hash", "signature",
)
_INSERT_SQL = "INSERT INTO audit_logs ({}) VALUES ({})".format(
    ", ".join(_INSERT_COLUMNS),
    ", ".join("%s::jsonb" if c == "details" else "%s" for c in _INSERT_COLUMNS),
)


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
) -> AuditLog:
    """Append one entry to the audit chain, in the caller's transaction.

    ``actor`` defaults to the current request's authenticated user; request
    id, IP and user agent come from the request context (empty outside one).
    Record late in a transaction: the chain lock is held until it commits.
    """
    return append_entry(
        action=action, actor=actor, acting_for=acting_for, org=org, resource_type=resource_type,
        resource_id=resource_id, result=result, level=level, details=details,
    )


def append_entry(
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
    at=None,
) -> AuditLog:
    """audit_record's body. ``at`` (tests and benchmarks only) replaces the
    database clock; the entry still goes strictly after the chain head."""
    if len(action) > 100 or not ACTION_RE.match(action):
        raise ValueError(f"audit action must be a dotted lower-case code, got {action!r}")
    if result not in AuditLog.Result.values:
        raise ValueError(f"audit result must be one of {AuditLog.Result.values}, got {result!r}")
    if level not in AuditLog.Level.values:
        raise ValueError(f"audit level must be one of {AuditLog.Level.values}, got {level!r}")

    ctx = context.current()
    if actor is None:
        actor = ctx.user()
    details_json = json.dumps(details or {}, cls=DjangoJSONEncoder, ensure_ascii=False)
    entry_id = uuid.uuid4()
    actor_username = actor.get_username() if actor is not None else ""
    acting_for_username = acting_for.get_username() if acting_for is not None else ""
    org_name = org.name if org is not None else ""
    # Metadata too long for its column is cut rather than failing the change it records.
    resource_type = str(resource_type)[:50]
    resource_id = str(resource_id)[:255]
    request_id = ctx.request_id[:100]
    user_agent = ctx.user_agent

    # savepoint=False: inside a caller's atomic block this adds no round trips;
    # a failure here marks the caller's transaction for rollback, as it should.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_PREPARE_SQL, [at, details_json, ctx.ip])
        prev_hash, created_at, created_text, details_text, ip_text = cursor.fetchone()
        prev_hash = prev_hash or GENESIS
        hash_hex = entry_hash((
            str(entry_id), created_text, actor_username, acting_for_username, org_name, action,
            resource_type, resource_id, result, level, request_id, ip_text, user_agent, details_text, prev_hash,
        ))
        signature = sign(hash_hex)
        row = {
            "id": entry_id, "created_at": created_at,
            "actor_id": actor.pk if actor is not None else None, "actor_username": actor_username,
            "acting_for_id": acting_for.pk if acting_for is not None else None,
            "acting_for_username": acting_for_username,
            "org_id": org.pk if org is not None else None, "org_name": org_name,
            "action": action, "resource_type": resource_type, "resource_id": resource_id,
            "result": result, "level": level, "request_id": request_id, "ip": ip_text,
            "user_agent": user_agent, "details": details_text,
            "prev_hash": prev_hash, "hash": hash_hex, "signature": signature,
        }
        cursor.execute(_INSERT_SQL, [row[c] for c in _INSERT_COLUMNS])

    row["details"] = json.loads(details_text)
    entry = AuditLog(**row)
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry
