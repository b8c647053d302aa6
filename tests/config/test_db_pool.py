"""The PostgreSQL connections a web process holds stay within its pool
(DB_POOL_MAX_SIZE), whatever the load: 500 concurrent API requests, half of
them chat posts, over two real uvicorn processes, with every process's
backends counted in pg_stat_activity (by application_name) while they run."""

from __future__ import annotations

import uuid

import pytest

from accounts.services import api_login
from chatroom.models import Message
from chatroom.services import room_create
from tests.config.test_faults_postgres import _connect
from tests.dbload import BackendSampler, backends, chat_load
from tests.processes import asgi_servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

POOL = 4


def test_500_requests_over_two_processes_stay_within_the_pool(make_user, tmp_path):
    user = make_user("loader")
    _, token = api_login(user=user, device_name="pool test")
    room = room_create(owner=user, name="pool")
    app = f"pool-test-{uuid.uuid4().hex[:8]}"
    names = [f"{app}-0", f"{app}-1"]

    with asgi_servers(2, tmp_path, application_name=app, DB_POOL_MAX_SIZE=POOL, DB_POOL_TIMEOUT=30,
                      CHAT_MESSAGE_RATE=0, API_RATE_LIMIT_PER_MINUTE=100_000) as urls:
        with BackendSampler(_connect, names, interval=0.05) as sampler:
            result = chat_load(urls, token, room.id, count=500, concurrency=24)
        with _connect() as admin:
            after = backends(admin, names)

    assert len(result.statuses) == 500
    assert set(result.statuses) <= {200, 201}, sorted(set(result.statuses))
    assert Message.objects.filter(room=room, content__startswith="load ").count() == 250
    # Both processes served and used the database; neither went past its pool.
    assert all(1 <= sampler.peak[name] <= POOL for name in names), sampler.peak
    assert all(after[name] <= POOL for name in names), after
    print(f"peak backends per process {sampler.peak}, after {after}, {result.seconds:.1f} s")
