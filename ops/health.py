"""The dashboard's health panel: every part, each checked with a short
timeout, so a part that is down shows as down instead of hanging the page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from config import redis_connections
from ops.collectors import last_verification, partitions_ahead
from ops.receivers import BEAT_TICK_KEY

logger = logging.getLogger(__name__)
TIMEOUT = 1.5
BEAT_LATE_SECONDS = 120  # beat's most frequent tasks run every few seconds


@dataclass
class Part:
    name: str
    ok: bool | None  # None: unknown
    detail: str


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "answers"


def _redis() -> str:
    redis_connections.client().ping()
    return "answers"


def _channel_layer() -> str:
    from channels.layers import get_channel_layer

    async def roundtrip():
        layer = get_channel_layer()
        channel = await layer.new_channel("ops-health.")
        await layer.send(channel, {"type": "ops.ping"})
        await asyncio.wait_for(layer.receive(channel), TIMEOUT)
        leftover = asyncio.ensure_future(layer.receive(channel))  # lets the channel go (see config.health)
        await asyncio.sleep(0)
        leftover.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leftover

    async_to_sync(roundtrip)()
    return "round trip ok"


def _workers() -> str:
    replies = current_app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no worker answered")
    return f"{len(replies)} answered"


def _check(name: str, check) -> Part:
    try:
        return Part(name, True, check())
    except Exception as exc:  # noqa: BLE001 - a health panel reports failures, it does not raise them
        logger.info("health check %s failed: %r", name, exc)
        return Part(name, False, str(exc)[:120] or type(exc).__name__)


def parts() -> list[Part]:
    result = [_check("database", _database), _check("redis", _redis), _check("channel layer", _channel_layer)]
    result.append(_check("workers", _workers) if result[1].ok else Part("workers", None, "unknown: Redis is down"))
    try:
        tick = cache.get(BEAT_TICK_KEY)
    except Exception:  # noqa: BLE001
        tick = None
    if tick is None:
        result.append(Part("beat", None, "no tick seen"))
    else:
        age = time.time() - float(tick)
        result.append(Part("beat", age < BEAT_LATE_SECONDS, f"last tick {int(age)} s ago"))
    if result[0].ok:
        event = last_verification()
        if event is None:
            result.append(Part("audit chain", None, "never verified"))
        else:
            ok = bool(event.data.get("ok"))
            result.append(Part("audit chain", ok, f"{'intact' if ok else 'BROKEN'}, checked "
                                                  f"{event.created_at:%Y-%m-%d %H:%M} UTC"))
        try:
            ahead = partitions_ahead()
            fewest = min((n for n, _ in ahead.values()), default=0)
            stray = sum(d for _, d in ahead.values())
            result.append(Part("partitions", fewest >= settings.PARTITION_MONTHS_AHEAD and not stray,
                               f"at least {fewest} months ahead; {stray} rows in DEFAULT"))
        except Exception as exc:  # noqa: BLE001
            result.append(Part("partitions", False, str(exc)[:120]))
    return result
