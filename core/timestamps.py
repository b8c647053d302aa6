"""How every face writes a time: ISO 8601 with ``Z`` for UTC (api.md,
"Times are ISO 8601 in UTC"). The API's DRF DateTimeFields write the same."""

from __future__ import annotations

from datetime import datetime


def isoformat_z(value: datetime | None) -> str | None:
    """``2026-01-02T03:04:05.678901Z`` for an aware UTC time (other offsets
    are kept as they are); None for no time."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
