"""Opaque keyset cursors for message history: a message's (created_at, id).

The cursor names a position, not an offset, so pages stay stable while new
messages arrive. It also carries created_at, which is what lets each page
query filter on the partition key (and so touch one or two partitions)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta, timezone

from core.errors import ValidationFailed

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def encode(created_at: datetime, message_id: uuid.UUID | str) -> str:
    micros = (created_at - EPOCH) // timedelta(microseconds=1)  # exact, no float rounding
    raw = f"{micros}.{uuid.UUID(str(message_id)).hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, *, field: str = "cursor") -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        micros, hex_id = base64.urlsafe_b64decode(padded.encode()).decode().split(".")
        when = EPOCH + timedelta(microseconds=int(micros))
        return when, uuid.UUID(hex_id)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise ValidationFailed(fields={field: ["Not a valid cursor."]}) from None
