"""How socket code runs blocking work (the database, Redis)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

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


def _in_thread(fn, args, kwargs):
    # As channels' database_sync_to_async: a connection that went stale or
    # past its age is dropped before and after the work.
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


def db(fn):
    """Run ``fn`` (database and Redis work) in one of the threads above, with
    the caller's context variables. Not the one shared "thread-sensitive"
    thread: sockets' frames then run side by side, each thread borrowing a
    pooled database connection, and one slow write does not hold up every
    other socket of the process.

    Straight onto the executor rather than through asgiref's SyncToAsync,
    which rebuilt a wrapper (functools.update_wrapper, two
    iscoroutinefunction checks) on every call: 5% of a loaded server's
    event-loop time (py-spy, 200 msg/s). Nothing run here calls back into
    async code, which is what SyncToAsync's extra bookkeeping is for."""

    async def run(*args, **kwargs):
        context = contextvars.copy_context()
        call = functools.partial(context.run, _in_thread, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(executor(), call)

    return run
