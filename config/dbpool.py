"""The database connection pool across fork (Celery's prefork workers).

A forked child inherits the parent's pool object, with the parent's
connections in it, but none of the pool's threads. Lending those
connections would share one socket between two processes, and letting them
be garbage-collected would close them on the server under the parent. The
child keeps them untouched and opens a pool of its own on first use."""

from __future__ import annotations

import os
import sys

_inherited: list[dict] = []


def _forget_inherited_pools() -> None:
    base = sys.modules.get("django.db.backends.postgresql.base")
    if base is None or not base.DatabaseWrapper._connection_pools:
        return
    _inherited.append(dict(base.DatabaseWrapper._connection_pools))  # kept alive: never finalized here
    base.DatabaseWrapper._connection_pools.clear()


os.register_at_fork(after_in_child=_forget_inherited_pools)
