"""Verify the audit chain: links, hashes, every signature, repeats, anchors.

Entries are read in chain order (created_at, id) and every one is checked
(``audit.chain`` defines the formats and why together they are sound):

1. link: its ``prev_hash`` is the ``hash`` of the previous entry of its lane
   (audit.chain, "Lanes"; "broken link": an entry was deleted or the order
   was changed). The first entry of a lane in the whole log links to
   GENESIS, or to that lane's last hash in the segments retention dropped,
   as recorded in the digest file;
2. its ``hash`` is recomputed from its fields ("hash mismatch": a field was
   changed and the hash not recomputed);
3. its ``signature`` is recomputed with AUDIT_HMAC_KEY ("bad signature": a
   field or the signature was changed by someone without the key, whatever
   they did to the unkeyed hashes). Every entry's, so the first bad one is
   named exactly;

then, over the whole range:

4. every head a signed anchor names in the range (of every lane) is still in the log with its hash
   ("truncated": an anchored head is gone, e.g. the newest entries were
   deleted; "anchor mismatch": something before the head was rewritten);
5. no entry after the newest anchor repeats an id ("duplicate entry": a
   signed entry copied back in; before an anchor, step 4 covers that, since
   the anchoring run checked this before signing).

The first problem is reported and checking stops there.
"""

from __future__ import annotations

import functools
import hmac
import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction

from audit import anchors
from audit.alerts import alert_staff
from audit.chain import GENESIS, ROW_LANE, ROW_SELECT, format_timestamp, hmac_key, parse_timestamp, row_checker, timestamp_sql

_BATCH = 5_000

HASH_MISMATCH = "hash mismatch"
BAD_SIGNATURE = "bad signature"
BROKEN_LINK = "broken link"
UNKNOWN_FORMAT = "unknown chain version"
DUPLICATE = "duplicate entry"
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
    # (id, hash, created_at text) of the newest entry checked, None if none.
    last: tuple[str, str, str] | None = None
    # The same of each lane's newest entry checked ("" is the main chain).
    lane_heads: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        broken = None
        if self.first_broken:
            broken = {k: v for k, v in asdict(self.first_broken).items() if k in ("id", "created_at", "reason")}
        return {"ok": self.ok, "checked": self.checked, "first_broken": broken}


def _bad_record(record: anchors.DigestRecord) -> VerifyResult:
    data = record.data
    return VerifyResult(False, 0, Broken(data.get("head_id") or data.get("last_id"),
                                         data.get("head_created_at") or data.get("last_created_at"),
                                         BAD_DIGEST, "a digest record fails its signature"))


def verify(*, since: datetime | None = None, until: datetime | None = None, using: str = "default") -> VerifyResult:
    connection = connections[using]
    since_text = format_timestamp(since) if since else None
    until_text = format_timestamp(until) if until else None
    records = anchors.load(using=using, since=since_text)
    for record in records:
        if not record.valid:
            return _bad_record(record)

    where_sql, params = _range_sql(since=since, until=until)

    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if outermost:
                # One snapshot for the predecessor lookup, the scan and the repeat check.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # The hash each lane's first entry in range links to: its lane's
            # last entry before the range. A lane without one starts in the
            # range and links to GENESIS or to what retention dropped.
            expected: dict[str, str] = _lane_predecessors(cursor, since=since, until=until) if since else {}
        # Retention's floors, read from the whole digest file only when a
        # lane starts in range (the file grows by a line a minute). A record
        # that fails its signature matters only then too.
        @functools.cache
        def floors():
            every = records if since is None else anchors.load(using=using)
            return _retention_floors([r for r in every if r.kind == "retention"])

        # Anchored heads before the newest dropped segment's end are gone with
        # it. A retention record whose segment ends after ``since`` was
        # written after that, so it is among ``records`` (loaded back to the
        # first anchor older than ``since``).
        floor_text = _retention_floors([r for r in records if r.kind == "retention"])[1]

        heads = [
            head for r in records if r.kind == "anchor" for head in anchors.anchored_heads(r.data)
            if (not since_text or head[2] >= since_text) and (not until_text or head[2] <= until_text)
            and (not floor_text or head[2] >= floor_text)
        ]
        anchored = {head[0] for head in heads}
        seen: dict[str, str] = {}
        lane_heads: dict[str, tuple[str, str, str]] = {}
        checked = 0
        last = None
        check = row_checker(hmac_key())
        compare = hmac.compare_digest

        query = f"SELECT {ROW_SELECT} FROM audit_logs {where_sql} ORDER BY created_at, id"
        # A server-side cursor: constant memory on any size of log. Every
        # column arrives as text, already in the rendering that is checked.
        with connection.chunked_cursor() as cursor, connection.wrap_database_errors:
            cursor.execute(query, params)
            for batch in _read_ahead(cursor.cursor, _BATCH):
                for row in batch:
                    entry_id, created_at, prev_hash, stored_hash, signature = row[1], row[2], row[15], row[16], row[17]
                    lane = row[ROW_LANE]
                    link = expected.get(lane)
                    if link is None:
                        lane_floors, _, bad_floor = floors()
                        if bad_floor is not None:
                            return _bad_record(bad_floor)
                        link_ok = prev_hash == GENESIS or prev_hash == lane_floors.get(lane)
                    else:
                        link_ok = prev_hash == link
                    if not link_ok:
                        return VerifyResult(False, checked, Broken(
                            entry_id, created_at, BROKEN_LINK,
                            "prev_hash does not match the preceding entry: an entry before it was deleted or reordered",
                        ), last, lane_heads)
                    computed = check(row)
                    if computed is None:
                        return VerifyResult(False, checked, Broken(
                            entry_id, created_at, UNKNOWN_FORMAT, f"chain_version {row[0]!r} is not one this code knows"
                        ), last, lane_heads)
                    if computed[0] != stored_hash:
                        return VerifyResult(False, checked, Broken(
                            entry_id, created_at, HASH_MISMATCH, "the entry's fields do not match its hash"),
                            last, lane_heads)
                    if not compare(computed[1], signature):
                        return VerifyResult(False, checked, Broken(
                            entry_id, created_at, BAD_SIGNATURE,
                            "the signature does not match the entry: changed without the key"), last, lane_heads)
                    if entry_id in anchored:
                        seen[entry_id] = stored_hash
                    expected[lane] = stored_hash
                    last = lane_heads[lane] = (entry_id, stored_hash, created_at)
                    checked += 1

        # Anchored heads (of every lane) in range must still be there, unchanged.
        for head_id, head_hash, at in heads:
            if head_id not in seen:
                return VerifyResult(False, checked, Broken(head_id, at, TRUNCATED,
                                                           "an anchored chain head is missing from the log"),
                                    last, lane_heads)
            if seen[head_id] != head_hash:
                return VerifyResult(False, checked, Broken(head_id, at, ANCHOR_MISMATCH,
                                                           "an anchored chain head has a different hash"),
                                    last, lane_heads)

        # After the newest anchor, nothing vouches for uniqueness yet.
        after = max((head[2] for head in heads), default=None)
        if repeat := _repeated_id(connection, after=after, since=since, until=until):
            return VerifyResult(False, checked, Broken(repeat[0], repeat[1], DUPLICATE,
                                                       "an entry id occurs twice: a signed entry was copied"),
                                last, lane_heads)
    return VerifyResult(True, checked, None, last, lane_heads)


def _lane_predecessors(cursor, *, since, until) -> dict[str, str]:
    """{lane: hash of its last entry before ``since``} for each lane with
    entries in the range and one before it (an index probe per lane)."""
    where_sql, params = _range_sql(since=since, until=until)
    cursor.execute(
        f"SELECT l.lane, p.hash FROM (SELECT DISTINCT lane FROM audit_logs {where_sql}) l "
        "JOIN LATERAL (SELECT a.hash FROM audit_logs a WHERE a.lane = l.lane AND a.created_at < %s "
        "ORDER BY a.created_at DESC, a.id DESC LIMIT 1) p ON true",
        [*params, since],
    )
    return dict(cursor.fetchall())


def _retention_floors(retentions: list[anchors.DigestRecord]):
    """({lane: last hash retention dropped}, the newest dropped segment's
    end, the newest record that fails its signature or None). Segments are
    dropped oldest first, so a lane's floor is the newest record naming it."""
    floors: dict[str, str] = {}
    bad = None
    for record in retentions:
        if not record.valid:
            bad = record
            continue
        floors.update(anchors.retention_floors(record.data))
    until = retentions[-1].data.get("until") if retentions and retentions[-1].valid else None
    return floors, until, bad


def _read_ahead(cursor, size: int) -> Iterator[list]:
    """``cursor.fetchmany(size)`` batches, the next one fetched by a thread
    while the caller checks this one: the server's work (rendering, sending)
    and the checking then overlap instead of taking turns. ``cursor`` is
    the psycopg cursor itself; nothing else uses its connection meanwhile."""
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                batch = cursor.fetchmany(size)
                batches.put(batch)
                if not batch:
                    return
        except BaseException as exc:  # raised in the caller's thread
            batches.put(exc)

    reader = threading.Thread(target=read, name="audit-verify-read", daemon=True)
    reader.start()
    try:
        while (batch := batches.get()):
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        # Stopped early (a break was found) or done: let the reader finish
        # its fetch before the cursor closes.
        stop.set()
        while reader.is_alive():
            try:
                batches.get(timeout=0.05)
            except queue.Empty:
                pass
        reader.join()


def _range_sql(*, since, until, after: str | None = None, column: str = "created_at") -> tuple[str, list]:
    """The WHERE clause of a verified range: from ``since`` (inclusive) or,
    given, strictly after ``after`` (UTC text), up to ``until`` (inclusive)."""
    where, params = [], []
    if after is not None:
        where.append(f"{column} > %s::timestamptz")
        params.append(after)
    elif since is not None:
        where.append(f"{column} >= %s")
        params.append(since)
    if until is not None:
        where.append(f"{column} <= %s")
        params.append(until)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def _repeated_id(connection, *, after: str | None, since, until) -> tuple[str, str] | None:
    """(id, created_at of its later copy) of the earliest repeated id among
    the entries after ``after`` (an anchored head's time) or else in the
    range, looked up against the whole table (the primary key is (id,
    created_at), so one id can be stored twice)."""
    where_sql, params = _range_sql(since=since, until=until, after=after, column="t.created_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id::text, {timestamp_sql('max(a.created_at)')} FROM audit_logs a "
            f"WHERE a.id IN (SELECT t.id FROM audit_logs t {where_sql}) "
            "GROUP BY a.id HAVING count(*) > 1 ORDER BY max(a.created_at) LIMIT 1",
            params,
        )
        return cursor.fetchone()


def anchor_head(*, using: str = "default", wait: bool = False) -> dict:
    """Verify the entries since the latest anchor, then sign the newest one
    checked and append it to the digest file: the periodic anchor. Holds the
    digest file's writer lock throughout, so concurrent runs (several
    workers, hosts) anchor once; with ``wait=False`` a run that finds the
    lock taken does nothing. Nothing is written when the head is still the
    one last anchored, and a broken chain is reported, never anchored:
    signing a tampered head would vouch for it."""
    with anchors.exclusive(using=using, wait=wait) as held:
        if not held:
            return {"ok": None, "checked": 0, "first_broken": None, "anchor": None, "skipped": "locked"}
        latest = anchors.latest_anchor(using=using)
        head = anchors.chain_head(using=using)
        if head is None:
            return {"ok": True, "checked": 0, "first_broken": None, "anchor": None, "skipped": "empty"}
        if latest is not None and latest.valid and (latest.data["head_id"], latest.data["head_hash"]) == head[:2]:
            return {"ok": True, "checked": 0, "first_broken": None, "anchor": None, "skipped": "unchanged"}
        since = None
        if latest is not None and latest.valid:
            since = parse_timestamp(latest.data["head_created_at"])
        result = verify(since=since, using=using)
        if not result.ok:
            report_break(result)
            return {**result.as_dict(), "anchor": None}
        # The newest entry the check saw, not a head read afresh: one that
        # committed since is not verified yet.
        record = anchors.anchor_record(result.last, lanes=result.lane_heads)
        return {**result.as_dict(), "anchor": anchors.write_locked(record, using=using)}


def parse_when(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time; naive means UTC. A bare date as an
    upper bound means the end of that day. Raises ValueError."""
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
    """The hourly check: the newest AUDIT_VERIFY_RECENT_LIMIT entries, with
    the link into them and the anchors among them."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT created_at FROM audit_logs ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
            [max(settings.AUDIT_VERIFY_RECENT_LIMIT - 1, 0)],
        )
        row = cursor.fetchone()
    return verify(since=row[0] if row else None, using=using)


def report_break(result: VerifyResult) -> None:
    """A broken chain is logged and raised to staff (once per broken entry a day)."""
    broken = result.first_broken
    if cache.add(f"audit:break-alerted:{broken.id}:{broken.reason}", 1, timeout=24 * 3600):
        alert_staff(code="chain.broken", message=f"Audit chain broken: {broken.reason} at entry {broken.id}",
                    details={"first_broken": result.as_dict()["first_broken"], "checked": result.checked})
