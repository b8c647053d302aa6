"""One presence sweep per event loop (server process): a socket whose server
died stops beating, and some live process must notice (realtime.presence.sweep;
Celery beat runs it too, realtime.tasks). Started by the first socket that
connects in a process."""

from __future__ import annotations

import asyncio
import logging
import random
import weakref

from django.conf import settings

from realtime import presence
from realtime.threads import db

logger = logging.getLogger(__name__)

_sweepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ensure_sweeper() -> None:
    every = settings.PRESENCE_SWEEP_SECONDS
    if every <= 0:
        return
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = loop.create_task(_sweep_forever(every))


async def _sweep_forever(every: float) -> None:
    await asyncio.sleep(random.uniform(0, every))  # processes started together sweep apart
    while True:
        try:
            await db(presence.sweep)()
        except Exception as exc:  # noqa: BLE001 - Redis or the database down: the next round retries
            logger.warning("presence sweep failed: %s", exc)
        await asyncio.sleep(every)
