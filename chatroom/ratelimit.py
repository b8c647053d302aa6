"""The per-user message rate limit, shared by every face that posts (the
socket's ``message.send`` and the API's POST), counted in Redis so a user's
sockets and API calls on every server process share one budget."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from config.errors import Throttled

logger = logging.getLogger(__name__)


def check_message_rate(user) -> None:
    """Count one message for ``user``; raise Throttled past the limit
    (CHAT_MESSAGE_RATE messages per CHAT_MESSAGE_RATE_WINDOW seconds)."""
    limit, window = settings.CHAT_MESSAGE_RATE, settings.CHAT_MESSAGE_RATE_WINDOW
    if limit <= 0:
        return
    now = time.time()
    slot = int(now // window)
    key = f"chat:rate:{user.id}:{slot}"
    try:
        cache.add(key, 0, timeout=window * 2)
        count = cache.incr(key)
    except Exception:  # noqa: BLE001 - Redis down: do not refuse chat over a missing counter
        logger.warning("message rate counter unavailable", exc_info=True)
        return
    if count > limit:
        retry_after = max(1, int((slot + 1) * window - now))
        raise Throttled(f"At most {limit} messages every {window} seconds; try again in {retry_after} s.",
                        retry_after=retry_after)
