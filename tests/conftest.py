import asyncio
import os

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.services import user_create
from config import redis_connections


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pytest.ini) starts one worker more than there are cores:
    much of the suite waits on the processes it starts (servers, workers,
    browsers, replicas, sentinels), and the extra worker fills that time.
    On 2 cores the whole suite took 21 min with 2 workers and under 16 with
    3. PYTEST_XDIST_AUTO_NUM_WORKERS still sets the number outright."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    return len(os.sched_getaffinity(0)) + 1


@pytest.fixture(autouse=True)
def _fresh_content_type_cache():
    """A transactional test flushes the database and content types come back
    with new ids; drop this process's cache so later tests never use stale ids
    (the admin's LogEntry and permissions look them up)."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def _default_language_again():
    """Each test starts in the default language: Django's LocaleMiddleware
    activates a request's language in the thread and never deactivates it,
    so a test client's Chinese or Korean request (Accept-Language, a
    profile's language) would otherwise leave the next test's service
    errors, which are translated, in that language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clean_redis_keyspace():
    """Each test starts with an empty key space (this worker's prefix only):
    the cache's keys and the raw ones beside them, such as a remote's
    transfer slots (jobs.locks), which a test's killed runner leaves held
    for their 30 s TTL, long enough to make a later test's remote busy."""
    yield
    cache.delete_pattern("*")
    client = redis_connections.client()
    for key in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:lock:*", count=1000):
        client.delete(key)


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(username=None, password="correct horse battery staple", **kwargs):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        kwargs.setdefault("email", f"{username}@example.com")
        return user_create(username=username, password=password, **kwargs)

    return make


@pytest.fixture
async def close_async_db_connections():
    """Async tests reach the database from asgiref's worker thread; close its
    connections afterwards so the test database can be dropped."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(scope="session", autouse=True)
def _close_shared_thread_connections(django_db_setup):
    """Code reached from an event loop through sync_to_async (the socket's
    session lookup) runs in asgiref's one shared thread, whose database
    connection outlives the test that opened it; a connection still lent
    out of the pool keeps the test database from being dropped. Torn down
    before the database (it depends on django_db_setup)."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    yield
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations():
    """The .mo files are built, never committed: compiled (Babel) before any
    test reads a translated string, as the run command does."""
    from core.management.commands.compilemessages import compile_all

    compile_all()
