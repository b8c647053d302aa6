"""The hash chain's one definition: what is signed, what is hashed, and why.

Threat model. The chain exists to catch someone who can change the database
behind the application's back: a PostgreSQL superuser (or anyone with the
data files) can rewrite any row, insert and delete rows with triggers off,
replace functions, log every statement with its parameters, and recompute
any hash that needs no secret. What they do not have is the application's
process: its memory, ``AUDIT_HMAC_KEY`` and the digest file under
``AUDIT_DIGEST_DIR`` (on the application hosts, not in the database).

So the key never goes to the database, in any form (chain format 1 sent the
HMAC key blocks as bound parameters of every write, where statement logging
captures them: see "Format 1" below). What the database cannot forge is
what the application signs, in Python, with the key:

1. **The entry's content, signed before the INSERT** (``signature``).
   Everything the application knows before it writes: the id it generates,
   actor and principal usernames, org name, action, resource, result, level,
   request id, IP, user agent and details. ``content()`` renders them into
   one canonical byte string C and ``signature = HMAC-SHA256(key, C)``. A
   forger who edits any of these fields, or the signature itself, or makes up
   a whole entry, cannot produce a matching signature: verification
   recomputes C from the stored columns and names that entry ("bad
   signature"). This needs nothing from the database, so the write stays one
   round trip.

2. **The entry's place, chained by the database** (``prev_hash``, ``hash``).
   What the database assigns and the application cannot know before the
   INSERT: ``created_at`` from the database clock (the one clock that orders
   entries from every host) and the link to the chain head at the moment of
   the append, taken under the chain lock. ``hash = SHA-256(prev_hash "\\n"
   created_at "\\n" C)``, computed by audit_chain_append (migration 0004) from
   the C the application sends. It is unkeyed: on its own it catches changes
   made without rehashing ("hash mismatch") and deletions or reordering
   without relinking ("broken link"), but a forger can recompute it. The
   signature is left out of it on purpose: it is a function of C and the
   key, so the chain commits to it anyway, and an edited signature is named
   as what it is ("bad signature") rather than as a hash mismatch.

   The write path is therefore still one round trip: Python validates,
   renders C and signs it; one call of audit_chain_append takes the chain
   lock, reads the head, stamps the time, hashes and inserts, and returns
   created_at, prev_hash and hash.

3. **Signed anchors over the chain head** (``audit.anchors``). At least once a
   minute while entries are written, the application verifies the entries
   since the previous anchor (links, hashes, every signature, no repeated
   id), then HMAC-signs the newest entry that check saw (id, hash,
   created_at; not a head read afresh, which might not be checked yet) and
   appends it to the digest file, outside the database. Because each hash
   covers the previous one, an anchored head hash commits to every entry
   before it: its content (C), its time and its position. After that, a
   forger can no longer reorder, re-time, delete or insert anything before
   the head without changing the head's hash ("anchor mismatch") or removing
   it ("truncated": deleting the newest entries, which no link can show,
   removes an anchored head). The anchor's signature stops them from writing
   a new anchor that matches.

What remains, and why it is small: between an append and the next anchor (at
most ``AUDIT_ANCHOR_INTERVAL_SECONDS`` plus the run time of the anchoring
task) a superuser could delete, reorder or re-time the newest entries, or
repeat an old entry whose id is no longer in the table (retention dropped
it), without a trace, because nothing the application holds yet describes
them. A repeat of an entry still in the table is caught ("duplicate entry").
Forging content stays impossible at every moment. Closing that window
entirely would take a second round trip per entry (to sign what the
database assigned), which the recording budget (at most 3x a plain INSERT)
does not allow; the anchor interval is the trade-off, and a setting. Signing
an application clock reading with each entry, to bound created_at, was left
out: the order must come from the database's clock alone, and rows that
follow a stray future-dated entry (or a host whose clock drifts) would show
as tampering.

Lanes (format 3). One chain has one lock, and the lock is held until the
writer's commit: every append in the system waits its turn, through a WAL
flush each. A room's posts are the busiest stream by far, so each room's
``message.posted`` entries form a chain of their own, a lane
(``lane = "room:<id>"``), locked and linked on its own; everything else
stays on the main chain (lane ""). A room's posts already take the room's
posting lock, so a lane adds no waiting of its own. Within a lane all of the
above holds unchanged: created_at strictly increases along it, each entry
links to its lane's previous one, and the database clock orders it. Across
lanes, entries are ordered by (created_at, id) like any others, but commit
order may differ from it.

A lane entry is format 3: format 2 with the lane in the signed content (C =
["v3", lane, id, ...], the rest as format 2), so moving an entry to another
lane is a bad signature, not only a broken link. An anchor signs the newest
entry it checked of each lane it saw, beside the head, so a lane's tail is
as protected as the main chain's; retention records the last hash of each
lane in the dropped segment, which the lane's first remaining entry links to.

One window is wider than the main chain's: an entry whose transaction
commits after an anchoring run had already checked a later entry of another
lane is first checked by a full verification or by the hourly check of the
newest entries, not by the next anchoring run (which starts at the newest
time the previous one saw). Its signature and its lane's links are checked
by those like any other's.

Encodings. Values that the database normalizes are rendered in Python the
same way at write and at verification time, so what is signed before the
INSERT is exactly what verification derives from the stored row:

- ``details``: JSONB keeps the value but not the text (key order, spacing,
  ``1e20`` comes back as ``100000000000000000000``), so the writer renders
  the value as PostgreSQL will print it back (``jsonb_text``), sends that
  text and signs it; the verifier uses ``details::text`` as it comes, and
  the database refuses an entry whose details would print otherwise.
- ``ip``: the address's packed bytes in hex (``packed_ip``), the same
  whatever text form (``2001:DB8::0:1``, ``::ffff:1.2.3.4``) either side uses.
- ``created_at``: a fixed UTC format with microseconds (``TIMESTAMP_SQL_FORMAT``).

    C         = compact JSON ["v2", id, actor_username, acting_for_username,
                org_name, action, resource_type, resource_id, result, level,
                request_id, packed_ip | null, user_agent, details::text], UTF-8
    signature = HMAC-SHA256(AUDIT_HMAC_KEY, C)                    (Python)
    hash      = SHA-256(prev_hash "\\n" created_at "\\n" C)       (database)

The three foreign keys (actor, acting_for, org) are deliberately in neither:
SET_NULL clears them when a user or org is deleted; the username / org-name
snapshots are covered instead.

Format 1 (entries written before migration 0004, ``chain_version = 1``):
``hash = SHA-256(compact JSON ["v1", id, created_at, <the fields>,
prev_hash])`` over the database's renderings (``HASHED_COLUMNS``) and
``signature = HMAC-SHA256(key, hash)``, both computed in SQL. They verify as
before: each hash and each signature is checked, and the chain runs on
through the version change (the first format 2 entry links to the last
format 1 hash). The version column is covered too: a format 2 entry
relabelled as format 1 fails format 1's signature, which also needs the key.
If statement logging with parameters was ever on while format 1 was written,
treat the key as exposed: such logs contained it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache

from django.conf import settings

VERSION = 2  # the chain format new entries of the main chain are written in (AuditLog.chain_version)
LANE_VERSION = 3  # the format of an entry in a lane of its own (see "Lanes" above)
GENESIS = "0" * 64

# PostgreSQL's rendering of created_at, microseconds, always UTC.
TIMESTAMP_SQL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def format_timestamp(moment) -> str:
    """Python's rendering of the same format, for an aware datetime."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def timestamp_sql(expr: str) -> str:
    return f"to_char(({expr}) AT TIME ZONE 'UTC', '{TIMESTAMP_SQL_FORMAT}')"


# ----------------------------------------------------------------- encodings

# json's C encoder, compact and without ensure_ascii, built once:
# JSONEncoder.encode rebuilds it on every call, and verification encodes
# every entry. (CPython always has it.)
_compact = json.encoder.c_make_encoder(
    None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False, False, False)


def _encode(value) -> str:
    return "".join(_compact(value, 0))


_quote = json.encoder.encode_basestring


def _key_order(item):
    # JSONB's order of object keys: shorter (in UTF-8 bytes) first, then bytewise.
    key = item[0].encode()
    return len(key), key


def jsonb_text(value) -> str:
    """``value`` (plain JSON types) rendered exactly as PostgreSQL renders
    it stored as JSONB (``details::text``): keys in JSONB's order, ", " and
    ": " separators, strings escaped as escape_json does (the same escapes
    as Python's json), numbers as numeric prints them (plain decimal, no
    exponent; zero without a sign). The writer signs this text, so the
    verifier can use the stored rendering as it comes; audit_chain_append
    refuses details whose stored rendering differs (migration 0004)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("audit details cannot hold NaN or infinity (JSONB has none)")
        if value == 0:
            return "0.0"
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dict):
        items = sorted(((str(k), v) for k, v in value.items()), key=_key_order)
        return "{" + ", ".join(f"{_quote(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    raise TypeError(f"audit details cannot hold {type(value).__name__}")


@lru_cache(maxsize=4096)
def packed_ip(text: str | None) -> str | None:
    """The signed rendering of an IP address: its packed bytes in hex (4 or 16
    bytes), whatever text form it came in. Raises ValueError for a non-address."""
    if text is None:
        return None
    return ipaddress.ip_address(text).packed.hex()


def ip_for_entry(text: str | None) -> tuple[str | None, str | None]:
    """(text for the inet column, packed_ip) of an entry's IP. An IPv6 zone
    (``%eth0``) is dropped: inet has none. Raises ValueError for a non-address."""
    if not text:
        return None, None
    address = ipaddress.ip_address(text.strip())
    if getattr(address, "scope_id", None):
        address = ipaddress.IPv6Address(address.packed)
    return str(address), address.packed.hex()


# ----------------------------------------------------------------- format 2

# The content fields, in the order C lists them after "v2" and the id.
CONTENT_FIELDS = (
    "id", "actor_username", "acting_for_username", "org_name", "action", "resource_type", "resource_id",
    "result", "level", "request_id", "ip", "user_agent", "details",
)


def content(values: Sequence[str | None], lane: str = "") -> bytes:
    """C: the canonical bytes of one entry's content, ``values`` in
    CONTENT_FIELDS order, ip as packed_ip and details as jsonb_text; with
    the lane first for an entry in one (format 3)."""
    if lane:
        return _encode(["v3", lane, *values]).encode()
    return _encode(["v2", *values]).encode()


def link_hash(prev_hash: str, created_at: str, content_bytes: bytes) -> str:
    """hash: what audit_chain_append computes in SQL (migration 0004)."""
    return hashlib.sha256(f"{prev_hash}\n{created_at}\n".encode() + content_bytes).hexdigest()


def hmac_key() -> bytes:
    return settings.AUDIT_HMAC_KEY.encode()


@lru_cache(maxsize=4)
def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad): the two key blocks of RFC 2104 HMAC-SHA256.
    HMAC(K, m) = SHA256((K ^ opad) || SHA256((K ^ ipad) || m))."""
    block = 64  # SHA-256's block size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def signer(key: bytes | None = None) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 (raw digest) with one key, for many messages. The padded
    key blocks are hashed once and copied per message: RFC 2104 exactly
    (tests pin it to ``hmac``), at about half the cost of copying an
    ``hmac.HMAC``, which verification of every entry notices."""
    inner_pad, outer_pad = hmac_pads(key or hmac_key())
    inner_base, outer_base = hashlib.sha256(inner_pad), hashlib.sha256(outer_pad)

    def sign_one(message: bytes) -> bytes:
        inner = inner_base.copy()
        inner.update(message)
        outer = outer_base.copy()
        outer.update(inner.digest())
        return outer.digest()

    return sign_one


def sign(message: str | bytes, key: bytes | None = None) -> str:
    """HMAC-SHA256 of ``message`` in hex (text is signed as UTF-8)."""
    data = message.encode() if isinstance(message, str) else message
    return hmac.digest(key or hmac_key(), data, "sha256").hex()


def signature_ok(message: str | bytes, signature: str, key: bytes | None = None) -> bool:
    return hmac.compare_digest(sign(message, key), signature)


# ----------------------------------------------------------------- format 1

# (name, SQL expression that renders it as text), in format 1's hash order.
HASHED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id::text"),
    ("created_at", timestamp_sql("created_at")),
    ("actor_username", "actor_username"),
    ("acting_for_username", "acting_for_username"),
    ("org_name", "org_name"),
    ("action", "action"),
    ("resource_type", "resource_type"),
    ("resource_id", "resource_id"),
    ("result", "result"),
    ("level", "level"),
    ("request_id", "request_id"),
    ("ip", "host(ip)"),
    ("user_agent", "user_agent"),
    ("details", "details::text"),
    ("prev_hash", "prev_hash"),
)
HASHED_SELECT = ", ".join(sql for _, sql in HASHED_COLUMNS)


def canonical_v1(values: Sequence[str | None]) -> str:
    """Format 1's encoding: a compact JSON array ["v1", values...]."""
    return _encode(["v1", *values])


def entry_hash_v1(values: Sequence[str | None]) -> str:
    """Format 1's hash of one entry's HASHED_COLUMNS values."""
    return hashlib.sha256(canonical_v1(values).encode()).hexdigest()


# ----------------------------------------------------------------- checking rows

# The verifier's row: the version, format 1's hashed columns (a superset of
# format 2's content and link), then the stored hash and signature, and the lane.
ROW_SELECT = f"chain_version, {HASHED_SELECT}, hash, signature, lane"
ROW_LANE = 18  # where the lane is in a ROW_SELECT row
sha256 = hashlib.sha256


def _hash_and_signed(row: tuple) -> tuple[str, bytes] | None:
    """(hash, the message its signature signs) of a ROW_SELECT row, by its
    chain version; None for a version this code does not know. Format 2
    inlines content() and link_hash(): verification runs this for every
    entry (tests pin the two spellings together)."""
    version = row[0]
    if version == 2:
        # row: 1 id, 2 created_at, 3..11 actor_username..request_id,
        # 12 ip, 13 user_agent, 14 details, 15 prev_hash.
        c = "".join(_compact(["v2", row[1], *row[3:12], packed_ip(row[12]), row[13], row[14]], 0)).encode()
        return sha256(f"{row[15]}\n{row[2]}\n".encode() + c).hexdigest(), c
    if version == 3:
        c = "".join(_compact(["v3", row[18], row[1], *row[3:12], packed_ip(row[12]), row[13], row[14]], 0)).encode()
        return sha256(f"{row[15]}\n{row[2]}\n".encode() + c).hexdigest(), c
    if version == 1:
        stored = entry_hash_v1(row[1:16])
        return stored, stored.encode("ascii")
    return None


def row_hash(row: tuple) -> str | None:
    """The unkeyed hash a ROW_SELECT row should carry: anyone can compute
    it, which is why the signature and the anchors exist."""
    found = _hash_and_signed(row)
    return found[0] if found else None


def row_checker(key: bytes | None = None) -> Callable[[tuple], tuple[str, str] | None]:
    """A function of a ROW_SELECT row that returns the (hash, signature) the
    row should carry, or None for an unknown chain version."""
    sign_raw = signer(key)

    def check(row: tuple) -> tuple[str, str] | None:
        found = _hash_and_signed(row)
        return (found[0], sign_raw(found[1]).hex()) if found else None

    return check
