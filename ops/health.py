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
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.utils.translation import gettext_lazy

from config import redis_connections
from jobs import figures
from ops.collectors import last_verification, partitions_ahead
from ops.receivers import BEAT_TICK_KEY

logger = logging.getLogger(__name__)
TIMEOUT = 1.5
BEAT_LATE_SECONDS = 120  # beat's most frequent tasks run every few seconds


# The parts as people read them; the key (``Part.name``) is the page's data-part.
PART_TEXTS = {
    "database": gettext_lazy("database"),
    "redis": gettext_lazy("Redis"),
    "channel layer": gettext_lazy("channel layer"),
    "workers": gettext_lazy("workers"),
    "beat": gettext_lazy("scheduler (beat)"),
    "audit chain": gettext_lazy("audit chain"),
    "partitions": gettext_lazy("partitions"),
}


@dataclass
class Part:
    name: str
    ok: bool | None  # None: unknown
    detail: str

    @property
    def label(self) -> str:
        return str(PART_TEXTS.get(self.name, self.name))


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return _("answers")


def _redis() -> str:
    redis_connections.client().ping()
    return _("answers")


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
    return _("round trip ok")


def _workers() -> str:
    replies = current_app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError(_("no worker answered"))
    return ngettext("%(count)s answered", "%(count)s answered", len(replies)) % {"count": len(replies)}


def _check(name: str, check) -> Part:
    try:
        return Part(name, True, check())
    except Exception as exc:  # noqa: BLE001 - a health panel reports failures, it does not raise them
        logger.info("health check %s failed: %r", name, exc)
        return Part(name, False, str(exc)[:120] or type(exc).__name__)


def parts() -> list[Part]:
    result = [_check("database", _database), _check("redis", _redis), _check("channel layer", _channel_layer)]
    result.append(_check("workers", _workers) if result[1].ok else Part("workers", None, _("unknown: Redis is down")))
    try:
        tick = cache.get(BEAT_TICK_KEY)
    except Exception:  # noqa: BLE001
        tick = None
    if tick is None:
        result.append(Part("beat", None, _("no tick seen")))
    else:
        age = time.time() - float(tick)
        result.append(Part("beat", age < BEAT_LATE_SECONDS,
                            _("last tick %(duration)s ago") % {"duration": figures.duration(int(age))}))
    if result[0].ok:
        event = last_verification()
        if event is None:
            result.append(Part("audit chain", None, _("never verified")))
        else:
            ok = bool(event.data.get("ok"))
            checked = date_format(timezone.localtime(event.created_at), "Y-m-d H:i T")
            text = _("intact, checked %(time)s") if ok else _("BROKEN, checked %(time)s")
            result.append(Part("audit chain", ok, text % {"time": checked}))
        try:
            ahead = partitions_ahead()
            fewest = min((n for n, _rows in ahead.values()), default=0)
            stray = sum(d for _months, d in ahead.values())
            result.append(Part("partitions", fewest >= settings.PARTITION_MONTHS_AHEAD and not stray,
                               ngettext("at least %(months)s month ahead", "at least %(months)s months ahead", fewest)
                               % {"months": fewest} + _("; ")
                               + ngettext("%(rows)s row in the default partition",
                                          "%(rows)s rows in the default partition", stray) % {"rows": stray}))
        except Exception as exc:  # noqa: BLE001
            result.append(Part("partitions", False, str(exc)[:120]))
    return result
