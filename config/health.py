"""Liveness (/healthz) and readiness (/readyz) probes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from asgiref.sync import async_to_sync
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import redis_connections
from config.celery import app as celery_app
from core import replica_health
from realtime.layer import overload_counts

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. No dependency is checked."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    if not redis_connections.client().ping():
        raise ConnectionError("PING was not answered")


def _check_channel_layer() -> None:
    from channels.layers import get_channel_layer

    async def roundtrip():
        layer = get_channel_layer()
        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz.ping"})
        # A receive the timeout cancels lets the channel go itself; letting go
        # again from the cancelled task would resubscribe, and can hang while
        # Redis is down.
        message = await layer.receive(channel)
        await _let_go(layer, channel)
        if message.get("type") != "readyz.ping":
            raise RuntimeError("the channel layer returned a different message")

    async def bounded():
        await asyncio.wait_for(roundtrip(), CHECK_TIMEOUT)

    async_to_sync(bounded)()


async def _let_go(layer, channel: str) -> None:
    """Drop the probe's channel. Channels has no call for it; the pub/sub
    layer lets a channel go (unsubscribes, forgets its queue) when a receive
    on it is cancelled, as when a consumer ends. Without this every probe
    left a Redis subscription and a queue behind in the serving process."""
    leftover = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    leftover.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await leftover


def _celery_status() -> str:
    replies = celery_app.control.ping(timeout=1.0)
    return "ok" if replies else "no workers"


def _run(check) -> tuple[bool, str]:
    try:
        check()
    except Exception as exc:  # a probe reports failures, it does not raise them
        logger.warning("readiness check %s failed: %r", check.__name__, exc)
        return False, f"error: {type(exc).__name__}"
    return True, "ok"


@never_cache
@require_GET
def readyz(request):
    """Readiness: 200 when the database, Redis and the channel layer answer.

    503 names the failing parts. A missing Celery worker is reported but does
    not make the web process unready: it can still serve pages. Either way the
    body carries this process's channel layer overload counts (sockets sent to
    the database to catch up; realtime.layer) and each read replica's status
    and lag (core.replica_health), which never make it unready.
    """
    result: dict[str, object] = {}
    failing: list[str] = []
    for name, check in (
        ("database", _check_database),
        ("redis", _check_redis),
        ("channel_layer", _check_channel_layer),
    ):
        ok, result[name] = _run(check)
        if not ok:
            failing.append(name)

    if "redis" in failing:
        result["celery"] = "unknown: redis is down"
    else:
        try:
            result["celery"] = _celery_status()
        except Exception as exc:
            logger.warning("celery ping failed: %r", exc)
            result["celery"] = f"error: {type(exc).__name__}"

    result["channel_layer_overloads"] = overload_counts()
    # Each read replica and its lag. A replica down or lagging never makes
    # the process unready: its reads go to the primary meanwhile.
    result["replicas"] = replica_health.report()
    if failing:
        result["failing"] = failing
        response = JsonResponse(result, status=503)
        # Each failing check was logged above as a warning; a probe polled
        # every few seconds would otherwise log an error per poll.
        response._has_been_logged = True
        return response
    return JsonResponse(result)
