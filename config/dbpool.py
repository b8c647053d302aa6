"""The database connection pool: across fork (Celery's prefork workers),
and its check of a connection before lending it.

A forked child inherits the parent's pool object, with the parent's
connections in it, but none of the pool's threads. Lending those
connections would share one socket between two processes, and letting them
be garbage-collected would close them on the server under the parent. The
child keeps them untouched and opens a pool of its own on first use."""

from __future__ import annotations

import logging
import os
import sys
import threading

from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

_inherited: list[dict] = []


def _forget_inherited_pools() -> None:
    base = sys.modules.get("django.db.backends.postgresql.base")
    if base is None or not base.DatabaseWrapper._connection_pools:
        return
    _inherited.append(dict(base.DatabaseWrapper._connection_pools))  # kept alive: never finalized here
    base.DatabaseWrapper._connection_pools.clear()


os.register_at_fork(after_in_child=_forget_inherited_pools)


# --------------------------------------------------------------------------- checking before lending

_sweeping = threading.Lock()


def check_connection(conn) -> None:
    """psycopg_pool's check of a connection before lending it, which also
    sweeps the pool when one fails.

    After a failed check the pool waits (1 s, then 2, 4, ...) before it
    tries its next idle connection. When the database restarted or its
    backends were terminated, every idle connection is dead, and a request
    would try them one by one until DB_POOL_TIMEOUT and answer 503. So the
    first dead one starts a check of all the idle ones in the background,
    which discards the dead and opens new ones: the waiting request gets a
    fresh one on its next try, about a second later."""
    from psycopg_pool import ConnectionPool

    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        if _sweeping.acquire(blocking=False):
            threading.Thread(target=_sweep, name="db-pool-sweep", daemon=True).start()
        raise


def _sweep() -> None:
    try:
        from django.db import connections

        pool = connections["default"].pool
        if pool is not None:
            pool.check()
    except Exception:  # noqa: BLE001 - the pool's own checks go on regardless
        logger.warning("database pool sweep failed", exc_info=True)
    finally:
        _sweeping.release()


def use_sweeping_check(sender, connection, **kwargs) -> None:
    """connection_created: Django builds the pool with psycopg_pool's plain
    check (CONN_HEALTH_CHECKS) and takes no other; swap in the one above.
    (psycopg_pool keeps its check in ``_check``; pinned in requirements.txt,
    and tests/config/test_faults_postgres.py fails without it.)"""
    pool = getattr(connection, "pool", None)
    if pool is not None and getattr(pool, "_check", None) not in (None, check_connection):
        pool._check = check_connection


connection_created.connect(use_sweeping_check)
