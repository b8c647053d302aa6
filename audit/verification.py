"""Verify the audit chain: hashes, signatures, links and anchors.

Entries are read in chain order (created_at, id) and each one is checked:

1. link: its ``prev_hash`` is the previous entry's ``hash`` ("broken link":
   an entry was deleted or the order was changed). The first entry of the
   whole log links to GENESIS, or to the last hash of the segment that
   retention dropped, as recorded in the digest file;
2. its ``hash`` is recomputed from its fields ("hash mismatch": a field was
   changed);
3. its ``signature`` is the HMAC of the hash ("bad signature": the hash was
   recomputed by someone without AUDIT_HMAC_KEY). Checked on the newest of
   every 64 entries and searched backwards only when one fails: a forged
   entry changes every later hash, so the first bad signature is still named.

Then every signed anchor in the range must still be in the log with its hash
("truncated": the newest entries were deleted). The first problem is
reported and checking stops there.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import connections, transaction

from audit import anchors
from audit.chain import (
    GENESIS, HASHED_SELECT, entry_hash, format_timestamp, hmac_key, parse_timestamp, signer,
)

_BATCH = 5_000
SIGNATURE_BATCH = 64

HASH_MISMATCH = "hash mismatch"
BAD_SIGNATURE = "bad signature"
BROKEN_LINK = "broken link"
TRUNCATED = "truncated"
ANCHOR_MISMATCH = "anchor mismatch"
BAD_DIGEST = "bad digest record"



@dataclass
class Broken:
    id: str | None
    created_at: str | None
    reason: str
    detail: str = ""


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_broken: Broken | None

    def as_dict(self) -> dict:
        broken = None
        if self.first_broken:
            broken = {k: v for k, v in asdict(self.first_broken).items() if k in ("id", "created_at", "reason")}
        return {"ok": self.ok, "checked": self.checked, "first_broken": broken}


def verify(*, since: datetime | None = None, until: datetime | None = None, using: str = "default") -> VerifyResult:
    key = hmac_key()
    connection = connections[using]
    records = anchors.load(using=using)
    for record in records:
        if not record.valid:
            return VerifyResult(False, 0, Broken(record.data.get("head_id") or record.data.get("last_id"),
                                                 record.data.get("head_created_at") or record.data.get("last_created_at"),
                                                 BAD_DIGEST, "a digest record fails its signature"))
    retentions = [r.data for r in records if r.kind == "retention"]
    floor = retentions[-1] if retentions else None  # the newest dropped segment
    anchor_list = [r.data for r in records if r.kind == "anchor"]

    where, params = [], []
    if since is not None:
        where.append("created_at >= %s")
        params.append(since)
    if until is not None:
        where.append("created_at <= %s")
        params.append(until)
    where_sql = f"WHERE {' AND '.join(where)}" if where else ""

    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if outermost:
                # One snapshot for the predecessor lookup and the scan.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            expected = None
            if since is not None:
                cursor.execute(
                    "SELECT hash FROM audit_logs WHERE created_at < %s ORDER BY created_at DESC, id DESC LIMIT 1",
                    [since],
                )
                row = cursor.fetchone()
                expected = row[0] if row else None
        # No predecessor: this is the start of what the log still holds.
        starts = {GENESIS} | ({floor["last_hash"]} if floor and floor.get("last_hash") else set())

        seen: dict[str, str] = {}
        anchored = {a["head_id"]: a for a in anchor_list}
        checked = 0
        sign_one = signer(key)
        compare = hmac.compare_digest
        # Entries whose link and hash passed but whose signature is not yet
        # checked. Signatures are checked on the newest of every
        # SIGNATURE_BATCH entries: a forged entry changes every later hash (or
        # breaks a link), so a good signature on a later entry vouches for all
        # before it. When one fails, the window is searched for the first.
        pending: list[tuple[str, str, str, str]] = []

        def settle() -> VerifyResult | None:
            if not pending:
                return None
            if compare(sign_one(pending[-1][2]), pending[-1][3]):
                pending.clear()
                return None
            for index, (entry_id, created_at, stored_hash, signature) in enumerate(pending):
                if not compare(sign_one(stored_hash), signature):
                    return VerifyResult(False, checked - len(pending) + index, Broken(
                        entry_id, created_at, BAD_SIGNATURE, "the signature does not match the hash"))
            raise AssertionError("unreachable: the newest signature failed")

        query = f"SELECT {HASHED_SELECT}, hash, signature FROM audit_logs {where_sql} ORDER BY created_at, id"
        # A server-side cursor: constant memory on any size of log. Every
        # column arrives as text, already in the rendering that is hashed.
        with connection.chunked_cursor() as cursor:
            cursor.execute(query, params)
            while batch := cursor.fetchmany(_BATCH):
                for row in batch:
                    entry_id, created_at, prev_hash, stored_hash, signature = row[0], row[1], row[14], row[15], row[16]
                    link_ok = prev_hash in starts if expected is None else prev_hash == expected
                    if not link_ok:
                        return settle() or VerifyResult(False, checked, Broken(
                            entry_id, created_at, BROKEN_LINK,
                            "prev_hash does not match the preceding entry: an entry before it was deleted or reordered",
                        ))
                    if entry_hash(row[:15]) != stored_hash:
                        return settle() or VerifyResult(False, checked, Broken(
                            entry_id, created_at, HASH_MISMATCH, "the entry's fields do not match its hash"))
                    pending.append((entry_id, created_at, stored_hash, signature))
                    if entry_id in anchored:
                        seen[entry_id] = stored_hash
                    expected = stored_hash
                    checked += 1
                    if len(pending) >= SIGNATURE_BATCH and (broken := settle()):
                        return broken
        if broken := settle():
            return broken

    # Anchored heads in range must still be there, unchanged.
    since_text = format_timestamp(since) if since else None
    until_text = format_timestamp(until) if until else None
    floor_text = floor["until"] if floor else None
    for anchor in anchor_list:
        at = anchor["head_created_at"]
        if (since_text and at < since_text) or (until_text and at > until_text) or (floor_text and at < floor_text):
            continue
        if anchor["head_id"] not in seen:
            return VerifyResult(False, checked, Broken(anchor["head_id"], at, TRUNCATED,
                                                       "an anchored chain head is missing from the log"))
        if seen[anchor["head_id"]] != anchor["head_hash"]:
            return VerifyResult(False, checked, Broken(anchor["head_id"], at, ANCHOR_MISMATCH,
                                                       "an anchored chain head has a different hash"))
    return VerifyResult(True, checked, None)


def latest_anchor_time(*, using: str = "default") -> datetime | None:
    anchor_list = [r.data for r in anchors.load(using=using) if r.kind == "anchor" and r.valid]
    return parse_timestamp(anchor_list[-1]["head_created_at"]) if anchor_list else None


def parse_when(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time; naive means UTC. A bare date as an
    upper bound means the end of that day. Raises ValueError."""
    from datetime import date, time, timedelta, timezone

    if not text:
        return None
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
        return moment + timedelta(days=1, microseconds=-1) if end_of_day else moment
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def verify_recent(*, using: str = "default") -> VerifyResult:
    """The hourly check: everything since the latest anchor (which is itself
    checked), or the newest AUDIT_VERIFY_RECENT_LIMIT entries without one."""
    from django.conf import settings

    since = latest_anchor_time(using=using)
    if since is None:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT created_at FROM audit_logs ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
                [max(settings.AUDIT_VERIFY_RECENT_LIMIT - 1, 0)],
            )
            row = cursor.fetchone()
            since = row[0] if row else None
    return verify(since=since, using=using)


def report_break(result: VerifyResult) -> None:
    """A broken chain is logged and raised to staff (once per broken entry a day)."""
    from django.core.cache import cache

    from audit.alerts import alert_staff

    broken = result.first_broken
    if cache.add(f"audit:break-alerted:{broken.id}:{broken.reason}", 1, timeout=24 * 3600):
        alert_staff(code="chain.broken", message=f"Audit chain broken: {broken.reason} at entry {broken.id}",
                    details={"first_broken": result.as_dict()["first_broken"], "checked": result.checked})
