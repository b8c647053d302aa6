"""The hash chain's one definition: which fields, in which encoding.

Both the writer (``audit.services.audit_record``, through the database
function audit_chain_append) and the verifier (``audit.verification``) hash
the same tuple of text values, in the order of ``HASHED_COLUMNS``. The values
are the database's own text renderings (``id::text``, ``details::text``,
``host(ip)`` and a fixed UTC timestamp format), so what is hashed at write
time is exactly what is read back: JSONB normalizes numbers and key order,
and inet normalizes addresses, and neither can drift from Python's rendering.

    canonical = compact JSON array ["v1", <values...>], UTF-8
    hash      = SHA-256( canonical )
    signature = HMAC-SHA256( AUDIT_HMAC_KEY, hash as ASCII hex )

``prev_hash`` is the last value, so each hash commits to the whole chain
before it. The first entry links to ``GENESIS``. The writer computes hash and
signature in SQL (audit_chain_append, migration 0003), to record an entry in
one round trip; the verifier computes them here, because PostgreSQL's JSON
escaping costs ~3x more per entry than Python's C encoder and verification
speed is a target. Both produce the same bytes (tests/audit/test_record.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings

VERSION = "v1"
GENESIS = "0" * 64

# PostgreSQL's rendering of created_at, microseconds, always UTC.
TIMESTAMP_SQL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def format_timestamp(moment) -> str:
    """Python's rendering of the same format, for an aware datetime."""
    from datetime import timezone

    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str):
    from datetime import datetime, timezone

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def timestamp_sql(expr: str) -> str:
    return f"to_char(({expr}) AT TIME ZONE 'UTC', '{TIMESTAMP_SQL_FORMAT}')"


# (name, SQL expression that renders it as text). The three foreign keys are
# deliberately absent: SET_NULL clears them when a user or org is deleted; the
# username / org-name snapshots are hashed instead.
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

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The same encoder's C core, built once: JSONEncoder.encode rebuilds it on
# every call, and verification calls this for every entry.
_c_encode = getattr(json.encoder, "c_make_encoder", None)
if _c_encode is not None:
    _c_encode = _c_encode(None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)


def canonical(values: Sequence[str | None]) -> str:
    """The encoding that is hashed: a compact JSON array ["v1", values...]."""
    items = [VERSION, *values]
    return "".join(_c_encode(items, 0)) if _c_encode is not None else _encoder.encode(items)


def entry_hash(values: Sequence[str | None]) -> str:
    """SHA-256 (hex) of one entry's hashed values, in HASHED_COLUMNS order."""
    return hashlib.sha256(canonical(values).encode()).hexdigest()


def hmac_key() -> bytes:
    return settings.AUDIT_HMAC_KEY.encode()


@lru_cache(maxsize=4)
def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad): the two key blocks of RFC 2104 HMAC-SHA256, for
    the database function that signs appended entries (it has sha256() but
    no hmac()). HMAC(K, m) = SHA256((K ^ opad) || SHA256((K ^ ipad) || m))."""
    block = 64  # SHA-256's block size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def sign(hash_hex: str, key: bytes | None = None) -> str:
    return hmac.digest(key or hmac_key(), hash_hex.encode("ascii"), "sha256").hex()


def signature_ok(hash_hex: str, signature: str, key: bytes | None = None) -> bool:
    return hmac.compare_digest(sign(hash_hex, key), signature)


def signer(key: bytes | None = None):
    """A fast ``sign`` for many hashes with one key (the HMAC key schedule is
    computed once and copied)."""
    base = hmac.new(key or hmac_key(), digestmod=hashlib.sha256)

    def sign_one(hash_hex: str) -> str:
        mac = base.copy()
        mac.update(hash_hex.encode("ascii"))
        return mac.hexdigest()

    return sign_one
