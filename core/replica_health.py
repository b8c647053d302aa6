"""Replica health: each process watches its replicas from a thread of its own.

Every ``REPLICA_CHECK_SECONDS`` the watcher reads the primary's WAL position
(``pg_current_wal_lsn()``) and each replica's replay position. A replica's
lag is how long ago the primary was last seen at or behind what the replica
has replayed: 0 when it has replayed everything, growing while its replay is
paused or slow and the primary moves on, whatever the two clocks say. (It is
taken no larger than the age of the replica's last replayed commit, which is
tighter under a steady stream of writes.) So it is exact to within one check.

A replica is used only while it answered its last check, in time, as a
standby, with a lag of at most ``REPLICA_MAX_LAG_SECONDS``; otherwise it is
skipped (``down``, ``lagging``, ``not_standby``, or ``unknown`` before its
first check or when its check is overdue) until a later check finds it well
again. The watcher starts on first use, so a command that never reads from a
replica never starts it; a forked child (Celery's pool) starts its own.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass

import psycopg
from django.conf import settings

logger = logging.getLogger(__name__)

OK, DOWN, LAGGING, NOT_STANDBY, UNKNOWN = "ok", "down", "lagging", "not_standby", "unknown"
_CONNECT_TIMEOUT = 2
_LIBPQ_OPTIONS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "target_session_attrs"}

_REPLICA_SQL = ("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8")


@dataclass
class State:
    status: str = UNKNOWN
    lag: float | None = None
    checked_at: float | None = None  # time.monotonic()
    error: str = ""


def lsn_value(text: str | None) -> int | None:
    """'16/B374D848' -> an integer that orders like the LSN."""
    if not text:
        return None
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _conninfo(alias: str) -> dict:
    db = settings.DATABASES[alias]
    options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k in _LIBPQ_OPTIONS}
    info = {
        "dbname": db.get("NAME"), "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None, "port": db.get("PORT") or None, **options,
        "connect_timeout": _CONNECT_TIMEOUT, "autocommit": True,
        "prepare_threshold": None,  # never prepared: the same behind PgBouncer
        "application_name": f"{(db.get('OPTIONS') or {}).get('application_name', 'teamhub')}-replica-watch",
    }
    if not getattr(settings, "DB_PGBOUNCER", False):
        # A replica that stops answering must not hold the watcher up for
        # long. (PgBouncer refuses startup options.)
        info["options"] = f"-c statement_timeout={_CONNECT_TIMEOUT * 1000}"
    return info


class Watcher:
    """The replicas' states in this process, and the thread that keeps them."""

    def __init__(self, aliases: list[str]):
        self.aliases = list(aliases)
        self.states = {alias: State() for alias in self.aliases}
        self.interval = float(settings.REPLICA_CHECK_SECONDS)
        self.max_lag = float(settings.REPLICA_MAX_LAG_SECONDS)
        # (when, the primary's WAL position), newest last.
        self.history: collections.deque[tuple[float, int]] = collections.deque()
        self._conns: dict[str, psycopg.Connection] = {}
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ reading the states

    def usable(self) -> list[str]:
        now = time.monotonic()
        # A check overdue by more than a couple of rounds (a replica that
        # hangs instead of refusing) makes its answer too old to trust.
        fresh = max(3 * self.interval, 2 * _CONNECT_TIMEOUT + self.interval)
        with self._lock:
            return [a for a, s in self.states.items()
                    if s.status == OK and s.checked_at is not None and now - s.checked_at <= fresh]

    def pick(self) -> str | None:
        usable = self.usable()
        return usable[next(self._turn) % len(usable)] if usable else None

    def mark_down(self, alias: str, exc: BaseException) -> None:
        with self._lock:
            state = self.states[alias]
            was = state.status
            state.status, state.error = DOWN, f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        if was != DOWN:
            logger.warning("replica %s is down (%s); its reads go to the primary until it recovers",
                           alias, state.error)

    def report(self) -> dict:
        now = time.monotonic()
        with self._lock:
            return {alias: {"status": s.status,
                            "lag_seconds": None if s.lag is None else round(s.lag, 3),
                            "checked_seconds_ago": None if s.checked_at is None else round(now - s.checked_at, 3)}
                    for alias, s in self.states.items()}

    # ------------------------------------------------------------------ checking

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="replica-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad round
                logger.exception("replica check failed")
            self._stop.wait(max(0.05, self.interval - (time.monotonic() - started)))

    def _query(self, alias: str, sql: str):
        conn = self._conns.get(alias)
        if conn is None or conn.closed:
            conn = self._conns[alias] = psycopg.connect(**_conninfo(alias))
        try:
            return conn.execute(sql).fetchone()
        except Exception:
            self._conns.pop(alias, None)
            conn.close()
            raise

    def check(self) -> None:
        """One round: the primary's position, then each replica's."""
        now = time.monotonic()
        try:
            primary = lsn_value(self._query("default", "SELECT pg_current_wal_lsn()::text")[0])
        except Exception as exc:  # noqa: BLE001 - the primary's own faults are reported elsewhere
            primary = None
            logger.debug("replica check: primary position unavailable: %r", exc)
        if primary is not None:
            self.history.append((now, primary))
            keep = max(60.0, 3 * self.max_lag)
            while self.history and self.history[0][0] < now - keep:
                self.history.popleft()
        for alias in self.aliases:
            self._check_replica(alias)

    def _check_replica(self, alias: str) -> None:
        try:
            in_recovery, replayed, replay_age = self._query(alias, _REPLICA_SQL)
        except Exception as exc:  # noqa: BLE001 - down, whatever the reason
            self._set(alias, DOWN, None, f"{type(exc).__name__}: {str(exc).strip()[:200]}")
            return
        if not in_recovery:
            self._set(alias, NOT_STANDBY, None, "not in recovery: it is no standby (promoted?)")
            return
        lag = self.lag(lsn_value(replayed), replay_age, time.monotonic())
        if lag is None:
            self._set(alias, UNKNOWN, None, "the primary's position is unknown")
        else:
            self._set(alias, OK if lag <= self.max_lag else LAGGING, lag, "")

    def lag(self, replayed: int | None, replay_age: float | None, now: float) -> float | None:
        if not self.history or replayed is None:
            return None
        if replayed >= self.history[-1][1]:
            return 0.0
        seen = [t for t, position in self.history if position <= replayed]
        behind_for = now - (seen[-1] if seen else self.history[0][0])
        if replay_age is not None:
            behind_for = min(behind_for, max(0.0, replay_age))
        return behind_for

    def _set(self, alias: str, status: str, lag: float | None, error: str) -> None:
        with self._lock:
            state = self.states[alias]
            was = state.status
            state.status, state.lag, state.error, state.checked_at = status, lag, error, time.monotonic()
        if was != status and not (was == UNKNOWN and status == OK):
            log = logger.info if status == OK else logger.warning
            log("replica %s: %s -> %s%s", alias, was, status,
                f" (lag {lag:.1f}s, limit {self.max_lag:g}s)" if lag is not None else f" ({error})" if error else "")


# --------------------------------------------------------------------------- this process's watcher

_watcher: Watcher | None = None
_watcher_lock = threading.Lock()
_inherited: list[Watcher] = []


def watcher() -> Watcher | None:
    """This process's watcher (started), or None without replicas."""
    global _watcher
    aliases = list(getattr(settings, "REPLICA_ALIASES", ()))
    if not aliases:
        return None
    if _watcher is None:
        with _watcher_lock:
            if _watcher is None:
                _watcher = Watcher(aliases)
                _watcher.start()
    return _watcher


def pick() -> str | None:
    """A healthy replica's alias (in turn), or None: read the primary."""
    w = watcher()
    return w.pick() if w is not None else None


def mark_down(alias: str, exc: BaseException) -> None:
    w = watcher()
    if w is not None:
        w.mark_down(alias, exc)


def report() -> dict:
    """{alias: {status, lag_seconds, checked_seconds_ago}} for /readyz."""
    w = watcher()
    return w.report() if w is not None else {}


def _forget_after_fork() -> None:
    # The parent's watcher thread is not in the child, and its connections
    # are the parent's sockets: keep them untouched (closing one would end
    # the parent's session) and start afresh on first use.
    global _watcher, _watcher_lock
    if _watcher is not None:
        _inherited.append(_watcher)
    _watcher = None
    _watcher_lock = threading.Lock()  # the parent may have held it at fork


os.register_at_fork(after_in_child=_forget_after_fork)
