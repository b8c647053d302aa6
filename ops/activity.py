"""Who made an authenticated request on which UTC day: a Redis set per day
(``ops:active:<YYYY-MM-DD>``), filled by each process's sampler from its
minute's requests (ops.counters) and read by the daily statistics. Kept
ACTIVE_DAYS days, long enough for the nightly run and a late rerun."""

from __future__ import annotations

import logging

from django.conf import settings

from config import redis_connections

logger = logging.getLogger(__name__)
ACTIVE_DAYS = 8


def _key(day: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:ops:active:{day}"


def record_seen(seen: set[tuple[str, str]]) -> None:
    if not seen:
        return
    try:
        redis = redis_connections.client()
        pipe = redis.pipeline(transaction=False)
        by_day: dict[str, list[str]] = {}
        for day, user_id in seen:
            by_day.setdefault(day, []).append(user_id)
        for day, users in by_day.items():
            pipe.sadd(_key(day), *users)
            pipe.expire(_key(day), ACTIVE_DAYS * 86400)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis away: these users count only through their other traces
        logger.warning("active users not recorded: %s", exc)


def seen_on(day: str) -> set[str]:
    try:
        return {member.decode() for member in redis_connections.client().smembers(_key(day))}
    except Exception as exc:  # noqa: BLE001
        logger.warning("active users of %s unavailable: %s", day, exc)
        return set()
