"""The append-only digest file: signed chain heads and retention records.

One JSON line per record in ``AUDIT_DIGEST_DIR/<database name>.jsonl``, on
the application's side, out of the database superuser's reach (see
``audit.chain`` for the threat model):

- ``{"kind": "anchor", "head_id", "head_hash", "head_created_at", "lanes", "at", "signature"}``:
  a chain head that was verified just before it was signed, and in
  ``lanes`` ({lane: [id, hash, created_at]}) the newest entry checked of each
  other lane that run saw (audit.chain, "Lanes")
  (``audit.verification.anchor_head``, every ``AUDIT_ANCHOR_INTERVAL_SECONDS``
  while entries are written; nothing is written while the head stays put).
  The head's hash commits to every entry before it, so verification checks
  that every anchored head is still in the log with that hash: deleting the
  newest entries (truncation) or rewriting anything before a head is caught.
- ``{"kind": "retention", "partition", "until", "last_id", "last_hash", "lanes", ...}``
  written by the partition maintenance before it drops an audit partition:
  the dropped segment's last hash of the main chain, and of each lane in
  ``lanes`` ({lane: hash}), which the first remaining entry of each links to.

Records are HMAC-signed with AUDIT_HMAC_KEY; a record that fails its
signature is itself reported by verification.

Several processes or hosts may append to one file (a shared directory):
writers hold an exclusive ``flock`` on ``<file>.lock`` and append each record
with one ``O_APPEND`` write, so lines never interleave and two anchoring runs
never both decide the head needs anchoring. Readers take no lock; a last line
without its newline is a write still in progress and is not read yet.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.db import connections

from audit.chain import format_timestamp, sign, signature_ok, timestamp_sql
from core.partitions import add_months

_READ_BLOCK = 64 * 1024


def digest_path(using: str = "default") -> Path:
    name = connections[using].settings_dict["NAME"]
    return Path(settings.AUDIT_DIGEST_DIR) / f"{name}.jsonl"


def _payload(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _digest_hash(record: dict) -> str:
    return hashlib.sha256(_payload(record).encode()).hexdigest()


@contextmanager
def exclusive(*, using: str = "default", wait: bool = True) -> Iterator[bool]:
    """Hold the digest file's writer lock. Yields True once held; with
    ``wait=False`` yields False at once if another writer holds it."""
    path = digest_path(using)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def write_locked(record: dict, *, using: str = "default") -> dict:
    """Sign and append one record; the caller holds ``exclusive``."""
    record = {**record, "at": datetime.now(timezone.utc).isoformat()}
    record["signature"] = sign(_digest_hash(record))
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    # O_APPEND and one write per record: never rewriting what is there.
    fd = os.open(digest_path(using), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A record torn by a crash stays a line of its own (reported as
            # unreadable), rather than swallowing this one.
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


def append(record: dict, *, using: str = "default") -> dict:
    with exclusive(using=using):
        return write_locked(record, using=using)


@dataclass
class DigestRecord:
    data: dict
    valid: bool

    @property
    def kind(self) -> str:
        return self.data.get("kind", "")

    @property
    def moment(self) -> str:
        """The chain time the record is about (UTC text), "" if none."""
        value = self.data.get("head_created_at") if self.kind == "anchor" else self.data.get("until")
        return value if isinstance(value, str) else ""


def _parse(line: bytes) -> DigestRecord:
    try:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        return DigestRecord({"kind": "unreadable", "line": line[:200].decode(errors="replace")}, False)
    signature = data.get("signature")
    return DigestRecord(data, isinstance(signature, str) and signature_ok(_digest_hash(data), signature))


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's complete lines, newest first, read in blocks from the end
    (the file grows by a line a minute while entries are written)."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        end = handle.seek(0, os.SEEK_END)
        pending = b""  # the start of a line whose beginning is in the part not yet read
        tail = True  # still looking for the last newline
        while end > 0:
            start = max(0, end - _READ_BLOCK)
            handle.seek(start)
            data = handle.read(end - start) + pending
            end = start
            if tail:
                cut = data.rfind(b"\n")
                if cut < 0:  # no newline yet: all of it is a line being written
                    pending = b""
                    continue
                data, tail = data[:cut + 1], False
            lines = data.split(b"\n")
            pending = lines.pop(0) if end > 0 else b""
            for line in reversed(lines):
                if line.strip():
                    yield line


def load(*, using: str = "default", since: str | None = None) -> list[DigestRecord]:
    """The digest records in file order. With ``since`` (UTC text), only the
    newest ones: read backwards up to the first anchor on a head older than
    ``since`` (anchors are appended in chain order, under the lock)."""
    records = []
    for line in _lines_backwards(digest_path(using)):
        record = _parse(line)
        if since is not None and record.kind == "anchor" and record.valid and record.moment < since:
            break
        records.append(record)
    records.reverse()
    return records


def latest_anchor(*, using: str = "default") -> DigestRecord | None:
    for line in _lines_backwards(digest_path(using)):
        record = _parse(line)
        if record.kind in ("anchor", "unreadable"):
            return record
    return None


def chain_head(*, using: str = "default") -> tuple[str, str, str] | None:
    """(id, hash, created_at text) of the newest entry, or None."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT id::text, hash, {timestamp_sql('created_at')} FROM audit_logs "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        return cursor.fetchone()


def anchor_record(head: tuple[str, str, str], lanes: dict | None = None) -> dict:
    """An anchor on ``head`` (the newest entry checked), and on the newest
    entry checked of each lane in ``lanes`` ({lane: (id, hash, created_at)})."""
    head_id, head_hash, head_created_at = head
    record = {"kind": "anchor", "head_id": head_id, "head_hash": head_hash, "head_created_at": head_created_at}
    others = {lane: list(entry) for lane, entry in (lanes or {}).items() if entry[0] != head_id}
    if others:
        record["lanes"] = others
    return record


def anchored_heads(data: dict) -> list[tuple[str, str, str]]:
    """(id, hash, created_at) of every entry an anchor record vouches for."""
    heads = [(data.get("head_id"), data.get("head_hash"), data.get("head_created_at"))]
    heads += [tuple(entry) for entry in (data.get("lanes") or {}).values()]
    return [head for head in heads if len(head) == 3 and all(isinstance(v, str) for v in head)]


def retention_floors(data: dict) -> dict[str, str]:
    """{lane: last hash} of one retention record: the main chain's as
    ``last_hash`` (all a record written before lanes has), the others' in
    ``lanes``."""
    floors = {lane: entry for lane, entry in (data.get("lanes") or {}).items() if isinstance(entry, str)}
    if data.get("last_hash"):
        floors[""] = data["last_hash"]
    return floors


def write_anchor(*, using: str = "default") -> dict | None:
    """Sign the current head as it is, unverified (tests and repair only; the
    periodic anchor is audit.verification.anchor_head)."""
    head = chain_head(using=using)
    if head is None:
        return None
    return append(anchor_record(head), using=using)


def record_retention(*, config, table: str, export, using: str = "default") -> None:
    """The audit table's before_drop hook (core.partitions, registered in AuditConfig.ready)."""
    with connections[using].cursor() as cursor:
        # Each lane's last entry in the segment; the main chain's ("") is
        # recorded as before lanes, the others under "lanes".
        cursor.execute(
            f"SELECT DISTINCT ON (lane) lane, id::text, hash, {timestamp_sql('created_at')} "
            f"FROM {connections[using].ops.quote_name(table)} ORDER BY lane, created_at DESC, id DESC"
        )
        lasts = {row[0]: row[1:] for row in cursor.fetchall()}
    last = lasts.pop("", None)
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
            "lanes": {lane: entry[1] for lane, entry in lasts.items()},
        },
        using=using,
    )


def export_until(table: str) -> datetime:
    """The exclusive end of a monthly partition, from its name (<table>_YYYY_MM)."""
    year, month = table.rsplit("_", 2)[-2:]
    return add_months(datetime(int(year), int(month), 1, tzinfo=timezone.utc), 1)
