"""Jobs while Redis (the Celery broker and the cancel flags) is down: a
submit or a cancel is saved and answered, never a 503 for a change that
already committed; the lost-job sweep sends the task once Redis is back."""

from __future__ import annotations

import contextlib

import pytest
from django.test import override_settings
from django.utils import timezone

from config import faults
from config.celery import app as celery_app
from config.redis_connections import celery_redis_url
from jobs import services, tasks
from jobs.models import Job
from tests.redis_server import ThrowawayRedis


@contextlib.contextmanager
def broker_and_cache(url):
    """Point Celery's broker and the cache (cancel flags) at ``url``. The
    app's own connection and producer pools are set aside, not closed, and
    put back afterwards, so later tests send through them as before."""
    saved = celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool
    cache = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": "jobs-down",
                         "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}}
    celery_app.conf.broker_url = celery_redis_url(url)
    celery_app._pool = celery_app.amqp._producer_pool = None
    try:
        with override_settings(CACHES=cache):
            yield
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool = saved


def queued_tasks(server) -> int:
    import redis

    client = redis.Redis(unix_socket_path=str(server.sock))
    return sum(client.llen(key) for key in client.keys("*") if client.type(key) == b"list")


@pytest.mark.django_db(transaction=True)
def test_a_job_submitted_and_cancelled_while_redis_is_down_is_saved_and_sent_later(power, make_local, tmp_path):
    make_local("src", {"a.txt": "a"})
    server = ThrowawayRedis(tmp_path).start()
    try:
        with broker_and_cache(server.url):
            server.stop()
            with faults.tracking() as down:
                job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
                other = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
                services.job_cancel(actor=power, job=other)
            assert down == {"redis"}
            assert Job.objects.get(id=job.id).status in ("pending", "queued")
            assert Job.objects.get(id=other.id).status == "cancelled"

            server.start()
            assert queued_tasks(server) == 0  # the submit's task was never sent
            Job.objects.filter(id=job.id).update(task_due_at=timezone.now() - timezone.timedelta(hours=1))
            tasks.requeue_lost_jobs()
            assert queued_tasks(server) == 1  # the sweep sent it once Redis was back
    finally:
        server.stop()
