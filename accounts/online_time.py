"""Online time per user per UTC day (seed 000's online_time_stats table:
total seconds, sessions, first and last session).

realtime.presence decides when a user's presence session starts and ends
(tabs that overlap are one session; a crashed server's session ends at its
last heartbeat) and tells these two functions, which accounts registers
with it (realtime.registry.OnlineTime): presence sits below accounts and
never writes accounts' tables itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection

_UPSERT = """
INSERT INTO online_time_stats (id, user_id, date, total_seconds, sessions_count, first_session_at,
                               last_session_at, created_at, updated_at)
VALUES (gen_random_uuid(), %(user)s, %(date)s, %(seconds)s, %(sessions)s, %(first)s, %(last)s, now(), now())
ON CONFLICT (user_id, date) DO UPDATE SET
    total_seconds = online_time_stats.total_seconds + EXCLUDED.total_seconds,
    sessions_count = online_time_stats.sessions_count + EXCLUDED.sessions_count,
    first_session_at = LEAST(online_time_stats.first_session_at, EXCLUDED.first_session_at),
    last_session_at = GREATEST(online_time_stats.last_session_at, EXCLUDED.last_session_at),
    updated_at = now()
"""


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=dt_timezone.utc)


def _upsert(user_id, day, *, seconds: int, sessions: int, first: datetime | None, last: datetime | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, {"user": user_id, "date": day, "seconds": seconds, "sessions": sessions,
                                 "first": first, "last": last})


def session_started(user_id, started: float) -> None:
    """A session counts on the (UTC) day it starts."""
    at = _at(started)
    _upsert(user_id, at.date(), seconds=0, sessions=1, first=at, last=at)


def session_ended(user_id, since: float, until: float) -> None:
    """Add the session's seconds to each UTC day it spans."""
    start, end = _at(since), _at(max(since, until))
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tzinfo=dt_timezone.utc)
        piece_end = min(end, midnight)
        _upsert(user_id, start.date(), seconds=round((piece_end - start).total_seconds()), sessions=0,
                first=None, last=piece_end)
        start = piece_end
