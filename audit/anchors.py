"""The append-only digest file: signed chain heads and retention records.

One JSON line per record in ``AUDIT_DIGEST_DIR/<database name>.jsonl``:

- ``{"kind": "anchor", "head_id", "head_hash", "head_created_at", "at", "signature"}``
  written daily: the chain head, signed. Verification checks that every
  anchored head is still in the log with that hash, so deleting the newest
  entries (truncation) is detected, as CloudTrail's digest files allow.
- ``{"kind": "retention", "partition", "until", "last_id", "last_hash", ...}``
  written by the partition maintenance before it drops an audit partition:
  the dropped segment's last hash, which the first remaining entry links to.

Records are HMAC-signed with AUDIT_HMAC_KEY; a record that fails its
signature is itself reported by verification.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.db import connections

from audit.chain import format_timestamp, sign, signature_ok, timestamp_sql


def digest_path(using: str = "default") -> Path:
    name = connections[using].settings_dict["NAME"]
    return Path(settings.AUDIT_DIGEST_DIR) / f"{name}.jsonl"


def _payload(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _digest_hash(record: dict) -> str:
    import hashlib

    return hashlib.sha256(_payload(record).encode()).hexdigest()


def append(record: dict, *, using: str = "default") -> dict:
    record = {**record, "at": datetime.now(timezone.utc).isoformat()}
    record["signature"] = sign(_digest_hash(record))
    path = digest_path(using)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    # O_APPEND: one write per record, never rewriting what is there.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


@dataclass
class DigestRecord:
    data: dict
    valid: bool

    @property
    def kind(self) -> str:
        return self.data.get("kind", "")


def load(*, using: str = "default") -> list[DigestRecord]:
    path = digest_path(using)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            records.append(DigestRecord({"kind": "unreadable", "line": line[:200]}, False))
            continue
        records.append(DigestRecord(data, signature_ok(_digest_hash(data), data.get("signature", ""))))
    return records


def chain_head(*, using: str = "default") -> tuple[str, str, str] | None:
    """(id, hash, created_at text) of the newest entry, or None."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT id::text, hash, {timestamp_sql('created_at')} FROM audit_logs "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        return cursor.fetchone()


def write_anchor(*, using: str = "default") -> dict | None:
    head = chain_head(using=using)
    if head is None:
        return None
    head_id, head_hash, head_created_at = head
    return append(
        {"kind": "anchor", "head_id": head_id, "head_hash": head_hash, "head_created_at": head_created_at},
        using=using,
    )


def record_retention(*, config, table: str, export, using: str = "default") -> None:
    """PARTITIONED_TABLES before_drop hook for the audit table."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT id::text, hash, {timestamp_sql('created_at')} FROM {connections[using].ops.quote_name(table)} "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        last = cursor.fetchone()
    until = format_timestamp(export_until(table))
    append(
        {
            "kind": "retention",
            "partition": table,
            "until": until,
            "rows": export.rows,
            "archive": export.path.name,
            "archive_sha256": export.sha256,
            "last_id": last[0] if last else None,
            "last_hash": last[1] if last else None,
            "last_created_at": last[2] if last else None,
        },
        using=using,
    )


def export_until(table: str) -> datetime:
    """The exclusive end of a monthly partition, from its name (<table>_YYYY_MM)."""
    from audit.partitioning import add_months

    year, month = table.rsplit("_", 2)[-2:]
    return add_months(datetime(int(year), int(month), 1, tzinfo=timezone.utc), 1)
