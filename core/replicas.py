"""Read replicas: which database each read goes to.

``DATABASE_REPLICA_URLS`` adds one alias per hot standby (``replica1``,
``replica2``, ...; settings.REPLICA_ALIASES). Everything goes to the primary
(``default``) unless a face marks its reads as tolerating a little lag:

- ``@lag_tolerant`` on a view (or ``with replica_reads(user_id=...)``):
  history pages, search, listings. Inside it, plain reads go to a healthy
  replica (core.replica_health), chosen once for the whole view, except
  - inside a transaction (``transaction.atomic``: every service, and so
    every permission check that guards a write),
  - once the view has written anything itself (the router's
    db_for_write, core.db.run_bound), so it reads its own write,
  - while the user is pinned to the primary (below),
  - under ``with primary_reads():``, which code that fills a cache uses
    (permission grants, unread counts): a stale read cached would outlive
    the replica's lag.
- Everything else, the socket's catch-up after an ``ack`` included, reads
  the primary: that code never enters a lag-tolerant scope.

**The pin.** After a user writes, their reads go to the primary for
``REPLICA_PIN_SECONDS``, so a post followed by a history read never misses
the post, whichever process serves the read. The faces (the pages' and
API's middleware, the socket's frame handler) run each request or frame
``acting`` for its user; a request with an unsafe HTTP method (POST, PUT,
PATCH, DELETE) and a socket frame registered as a write pin that user in
Redis when they end. While Redis is down a pin cannot be read, so the
user's reads go to the primary (never stale).

**A replica that fails mid-view.** A lag-tolerant view whose replica
connection fails (the standby stopped since it was last checked) is run
again on the primary once, and the replica is marked down: the reader sees
no error. Views marked lag-tolerant only read (GET), so running one again
is safe.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from dataclasses import dataclass, field
from typing import Callable

import redis.exceptions
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db import Error as DatabaseError
from django.db import InterfaceError, OperationalError
from django_redis.exceptions import ConnectionInterrupted

from core import replica_health

logger = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionInterrupted)


def aliases() -> list[str]:
    return list(getattr(settings, "REPLICA_ALIASES", ()))


# --------------------------------------------------------------------------- who is acting (for the pin)


@dataclass
class _Actor:
    user_id: Callable[[], object]  # resolved at the end: DRF authenticates inside the view
    wrote: bool = False


_actor: contextvars.ContextVar[_Actor | None] = contextvars.ContextVar("teamhub_replica_actor", default=None)




@contextlib.contextmanager
def acting(user_id: Callable[[], object]):
    """Run a request or a socket frame for a user (``user_id()`` gives their
    id, or None for nobody); if it is a write (``actor.wrote``, set by the
    face: an unsafe HTTP method, a socket frame registered as a write), pin
    them to the primary after. Bookkeeping a read does on the side (a
    token's sliding expiry, ``last_active_at``) is not the user's write and
    pins nobody."""
    actor = _Actor(user_id)
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)
        if actor.wrote:
            uid = actor.user_id()
            if uid is not None:
                pin(uid)


def acting_as(user_id, fn: Callable, *, writes: bool = False) -> Callable:
    """``fn`` run ``acting`` for ``user_id`` (a socket frame's handler);
    ``writes``: pin afterwards even if no write was seen."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with acting(lambda: user_id) as actor:
            try:
                return fn(*args, **kwargs)
            finally:
                actor.wrote = actor.wrote or writes
    return wrapper


def _pin_key(user_id) -> str:
    return f"replica-pin:{user_id}"


def pin(user_id) -> None:
    """Send this user's reads to the primary for REPLICA_PIN_SECONDS, in
    every process. Nothing to do without replicas."""
    if not aliases():
        return
    try:
        cache.set(_pin_key(user_id), 1, timeout=settings.REPLICA_PIN_SECONDS)
    except _REDIS_ERRORS as exc:
        # Unset, a pin cannot be read either while Redis is down, and an
        # unreadable pin reads the primary; a Redis that flickered back
        # loses only this pin.
        logger.warning("replica pin for user %s not stored (Redis unavailable): %s", user_id, exc)


def is_pinned(user_id) -> bool:
    try:
        return cache.get(_pin_key(user_id)) is not None
    except _REDIS_ERRORS:
        return True  # unknown: the primary is never stale


class PinMiddleware:
    """Runs each request ``acting`` for its user (after authentication, which
    DRF does inside the view: the user is read when the request ends)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        def user_id():
            user = getattr(request, "user", None)
            return user.pk if getattr(user, "is_authenticated", False) else None

        with acting(user_id) as actor:
            response = self.get_response(request)
            if request.method not in SAFE_METHODS:
                actor.wrote = True
        return response


# --------------------------------------------------------------------------- lag-tolerant reads


_UNCHOSEN = object()


@dataclass
class _Scope:
    user_id: object = None
    replicas: bool = True  # False: primary_reads() inside a lag-tolerant scope
    alias: object = field(default=_UNCHOSEN)
    wrote: bool = False


def note_write() -> None:
    """A write is happening on the primary (the router's db_for_write,
    core.db.run_bound): the rest of a lag-tolerant scope reads the primary,
    so it sees its own write."""
    scope = _scope.get()
    if scope is not None:
        scope.wrote = True


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("teamhub_replica_scope", default=None)


@contextlib.contextmanager
def replica_reads(*, user_id=None):
    """Reads inside may go to a replica (see the module's doc). ``user_id``:
    whose pin to honour."""
    token = _scope.set(_Scope(user_id=user_id))
    try:
        yield
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def primary_reads():
    """Reads inside go to the primary, even within a lag-tolerant scope."""
    token = _scope.set(_Scope(replicas=False))
    try:
        yield
    finally:
        _scope.reset(token)


def primary_only(fn: Callable) -> Callable:
    """Decorator form of ``primary_reads`` (for code that fills a cache)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with primary_reads():
            return fn(*args, **kwargs)
    return wrapper


def read_alias() -> str:
    """The database a read issued now goes to (the router's answer; raw SQL
    in a lag-tolerant path uses ``connections[read_alias()]``)."""
    scope = _scope.get()
    if scope is None or not scope.replicas or not aliases():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    if scope.wrote:
        return DEFAULT_DB_ALIAS
    if scope.alias is _UNCHOSEN:
        scope.alias = _choose(scope)
    return scope.alias


def _choose(scope: _Scope) -> str:
    if scope.user_id is not None and is_pinned(scope.user_id):
        return DEFAULT_DB_ALIAS
    alias = replica_health.pick()
    if alias is None:
        return DEFAULT_DB_ALIAS
    try:
        connections[alias].ensure_connection()
    except DatabaseError as exc:
        replica_health.mark_down(alias, exc)
        return DEFAULT_DB_ALIAS
    return alias


def served_by_replica() -> bool:
    scope = _scope.get()
    return scope is not None and scope.alias not in (_UNCHOSEN, DEFAULT_DB_ALIAS)


def lag_tolerant(view: Callable) -> Callable:
    """A view (a function view, or an API view's ``get``) whose reads may
    come from a replica. The user is resolved first, on the primary (a
    session or token just created must be found)."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request = next((a for a in args[:2] if hasattr(a, "META")), None)
        user = getattr(request, "user", None)
        user_id = user.pk if getattr(user, "is_authenticated", False) else None
        if not aliases() or getattr(request, "method", None) not in SAFE_METHODS:
            # A page that also takes a form's POST reads the primary then:
            # it writes, and a write is never run twice.
            return view(*args, **kwargs)
        with replica_reads(user_id=user_id):
            try:
                return view(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                scope = _scope.get()
                if not served_by_replica():
                    raise
                replica_health.mark_down(scope.alias, exc)
                logger.warning("replica %s failed during a read (%s); read again from the primary",
                               scope.alias, type(exc).__name__)
        with primary_reads():
            return view(*args, **kwargs)

    wrapper.lag_tolerant = True
    return wrapper


class ReplicaRouter:
    """settings.DATABASE_ROUTERS. Writes and migrations: the primary. Reads:
    ``read_alias()``. All aliases hold the same data, so relations between
    objects read from any of them are allowed."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        note_write()
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
