"""The per-user message rate limit, shared by every face that posts (the
socket's ``message.send`` and the API's POST), counted in Redis so a user's
sockets and API calls on every server process share one budget."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from config.faults import OPEN, redis_policy
from core.errors import Throttled


@redis_policy("message_rate", fails=OPEN, fallback=0,
              means="chat messages are not rate-limited (chat goes on; a missing counter refuses nobody)")
def _count(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window * 2)
    return cache.incr(key)


def check_message_rate(user) -> None:
    """Count one message for ``user``; raise Throttled past the limit
    (CHAT_MESSAGE_RATE messages per CHAT_MESSAGE_RATE_WINDOW seconds)."""
    limit, window = settings.CHAT_MESSAGE_RATE, settings.CHAT_MESSAGE_RATE_WINDOW
    if limit <= 0:
        return
    now = time.time()
    slot = int(now // window)
    count = _count(f"chat:rate:{user.id}:{slot}", window)
    if count > limit:
        retry_after = max(1, int((slot + 1) * window - now))
        raise Throttled(f"At most {limit} messages every {window} seconds; try again in {retry_after} s.",
                        retry_after=retry_after)
