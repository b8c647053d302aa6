"""How socket code runs blocking work (the database, Redis)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from django.conf import settings

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid, executor)


def executor() -> ThreadPoolExecutor:
    """This process's threads for socket work, ``WS_DB_THREADS`` of them.
    asyncio's default executor has min(32, cores + 4) threads: six on two
    cores, each spending most of a frame waiting on PostgreSQL or Redis, so a
    server saturated its threads with its CPU two-thirds idle. Made lazily,
    and anew after a fork."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=settings.WS_DB_THREADS, thread_name_prefix="ws-db"))
        return _pool[1]


def db(fn):
    """Run ``fn`` (database and Redis work) in one of the threads above. Not
    the one shared "thread-sensitive" thread: sockets' frames then run side
    by side, each thread borrowing a pooled database connection, and one slow
    write does not hold up every other socket of the process."""

    async def run(*args, **kwargs):
        return await database_sync_to_async(fn, thread_sensitive=False, executor=executor())(*args, **kwargs)

    return run
