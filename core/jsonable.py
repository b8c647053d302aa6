"""Values made storable as JSON (audit details, snapshots), one rule for all."""

from __future__ import annotations

from datetime import date, datetime, time


def jsonable(value):
    """``value`` as JSON can hold it: JSON's own types as they are (lists
    and dicts through, tuples as lists, keys as text), times as ISO 8601,
    anything else (a UUID, a Decimal, a model instance) as its text. Also
    usable as ``json.dumps(..., default=jsonable)``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)
