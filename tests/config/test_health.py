import socket

import pytest
from django.db import connections
from django.test import override_settings

from tests.redis_server import ThrowawayRedis


def test_healthz_is_liveness_only(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_every_part(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["channel_layer"] == "ok"
    assert body["celery"] in {"ok", "no workers"}


def _redis_settings(url):
    return {
        "CACHES": {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url,
                               "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}},
        "CHANNEL_LAYERS": {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                       "CONFIG": {"hosts": [url]}}},
    }


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_stopped(client, tmp_path):
    """A real Redis is started, used, then stopped: /readyz turns 503 and says which part failed."""
    redis = ThrowawayRedis(tmp_path).start()
    try:
        with override_settings(**_redis_settings(redis.url)):
            up = client.get("/readyz")
            assert up.status_code == 200, up.content
            assert up.json()["redis"] == "ok"

            redis.stop()

            down = client.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["database"] == "ok"
            assert body["redis"].startswith("error")
            assert "redis" in body["failing"]
            assert body["celery"].startswith("unknown")
    finally:
        redis.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_database_when_it_is_unreachable(client):
    """Point the real connection at a port where nothing listens (the pool
    is closed around it: it keeps the address it was opened with)."""
    conn = connections["default"]
    saved = dict(conn.settings_dict)
    conn.close()
    conn.close_pool()
    conn.settings_dict.update(HOST="127.0.0.1", PORT=_closed_port())
    try:
        response = client.get("/readyz")
    finally:
        conn.close()
        conn.close_pool()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["database"].startswith("error")
    assert body["redis"] == "ok"
