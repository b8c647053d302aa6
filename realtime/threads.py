"""How socket code runs blocking work (the database, Redis)."""

from __future__ import annotations

from channels.db import database_sync_to_async


def db(fn):
    """Run ``fn`` (database and Redis work) in a worker thread. Not the one
    shared "thread-sensitive" thread: sockets' frames then run side by side,
    each thread keeping its own database connection (CONN_MAX_AGE), and one
    slow write does not hold up every other socket of the process."""
    return database_sync_to_async(fn, thread_sensitive=False)
