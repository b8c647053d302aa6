"""What a request does while PostgreSQL or Redis is down.

One mapping, ``unavailable(exc)``, turns a connection error of either part
into ``ServiceUnavailable`` (503 ``service_unavailable`` with
``Retry-After``), logged as one warning line: the API's exception handler,
the pages' middleware and the 500 handler all use it, so no face answers
500 for a part that is down.

Each use of Redis that a request can do without is wrapped in a named
``redis_policy``, which decides explicitly what happens while Redis is
down: it *fails open* (the call returns a stated fallback and the request
goes on) or *fails closed* (``ServiceUnavailable``, which every face
renders: a 503, a page, a socket ``error`` frame). Every policy is listed in
``POLICIES`` and in the README's "Faults" section. A use of Redis without a
policy fails closed through the mapping.

A response to a request during which some part was found down carries the
header ``X-Unavailable: <parts>`` (see ``tracking``), and pages show a
notice.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
from dataclasses import dataclass

import psycopg
import redis.exceptions
from django.db import InterfaceError, OperationalError
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

DATABASE, REDIS = "database", "redis"
HEADER = "X-Unavailable"
RETRY_AFTER_SECONDS = 5
MESSAGES = {
    DATABASE: "The database is unavailable; try again shortly.",
    REDIS: "Redis (rate limits, caches, live updates) is unavailable; try again shortly.",
}
# What a page served without a part tells its reader.
NOTICES = {
    DATABASE: "The database is unavailable: changes cannot be saved right now.",
    REDIS: "Live updates, presence and unread counts are paused (Redis is unavailable). "
           "They come back by themselves; reload the page in a little while.",
}

# Django wraps the driver's errors (a terminated backend, a refused
# connection, a pool timeout: psycopg_pool's PoolTimeout is an
# OperationalError) in its own; raw psycopg ones come from code that uses
# a driver connection directly.
DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
# redis-py's connection errors (django-redis's cache re-raises them as they
# are; its client wraps them in ConnectionInterrupted), and the Celery
# broker's, which is the same Redis.
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionInterrupted,
                 BrokerUnavailable)


def failed_part(exc: BaseException) -> str | None:
    """``"database"`` or ``"redis"`` when ``exc`` says that part is
    unreachable, else None (a bug, bad input: not ours to soften)."""
    if isinstance(exc, DATABASE_ERRORS):
        return DATABASE
    if isinstance(exc, REDIS_ERRORS):
        return REDIS
    return None


def unavailable(exc: BaseException, *, where: str = "") -> ServiceUnavailable | None:
    """The one mapping: ServiceUnavailable for a part that is down (logged
    as a warning, without a traceback), None for any other error."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    part = failed_part(exc)
    if part is None:
        return None
    note_down(part)
    logger.warning("%s unavailable%s: %s: %s", part, f" in {where}" if where else "", type(exc).__name__,
                   str(exc).strip().splitlines()[0] if str(exc).strip() else "")
    error = ServiceUnavailable(MESSAGES[part], retry_after=RETRY_AFTER_SECONDS)
    error.part = part
    return error


# --------------------------------------------------------------------------- per request: what was found down

_down: contextvars.ContextVar[set | None] = contextvars.ContextVar("teamhub_parts_down", default=None)


@contextlib.contextmanager
def tracking():
    """Collect the parts found down while handling one request (the pages'
    middleware wraps each request in it). The set is shared, not copied,
    so what sync code in a worker thread notes is seen here."""
    token = _down.set(set())
    try:
        yield _down.get()
    finally:
        _down.reset(token)


def note_down(part: str) -> None:
    found = _down.get()
    if found is not None:
        found.add(part)


def parts_down() -> list[str]:
    """What this request has found down so far (for the pages' notice)."""
    return sorted(_down.get() or ())


# --------------------------------------------------------------------------- Redis policies

OPEN, CLOSED = "open", "closed"
# One warning per policy per this many seconds while Redis stays down, not one per request.
_LOG_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class RedisPolicy:
    name: str
    fails: str  # OPEN or CLOSED
    means: str  # what a request gets while Redis is down (the README lists it)


POLICIES: dict[str, RedisPolicy] = {}
_last_logged: dict[str, float] = {}


def redis_policy(name: str, *, fails: str, means: str, fallback=None):
    """Decorate a function that uses Redis with what happens when Redis is
    unreachable: ``fails=OPEN`` returns ``fallback`` (a value, or a callable
    given the same arguments) and notes Redis as down; ``fails=CLOSED``
    raises ServiceUnavailable. Other errors pass through unchanged."""
    if fails not in (OPEN, CLOSED):
        raise ValueError(f"fails must be {OPEN!r} or {CLOSED!r}")
    if name in POLICIES:
        raise ValueError(f"Redis policy {name!r} is defined twice")
    policy = POLICIES[name] = RedisPolicy(name, fails, means)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except REDIS_ERRORS as exc:
                if fails == CLOSED:
                    raise unavailable(exc, where=name) from exc
                note_down(REDIS)
                now = time.monotonic()
                if now - _last_logged.get(name, -_LOG_EVERY_SECONDS) >= _LOG_EVERY_SECONDS:
                    _last_logged[name] = now
                    logger.warning("redis unavailable: %s fails open (%s): %s", name, means, exc)
                return fallback(*args, **kwargs) if callable(fallback) else fallback

        wrapper.redis_policy = policy
        return wrapper

    return decorate
