"""Settings come from the environment and refuse unsafe combinations."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _load_settings(DEBUG="0")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_defaults_to_off_and_still_needs_the_key():
    result = _load_settings()
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_starts_with_a_secret_key_and_debug_off():
    result = _load_settings(DEBUG="0", SECRET_KEY="a-real-secret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_rejects_a_debug_value_that_is_not_a_boolean():
    result = _load_settings(DEBUG="maybe", SECRET_KEY="a-real-secret")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_rejects_ws_db_threads_below_one():
    result = _load_settings(SECRET_KEY="a-real-secret", WS_DB_THREADS="0")
    assert result.returncode != 0
    assert "WS_DB_THREADS must be at least 1" in result.stderr



@pytest.mark.parametrize(("env", "message"), [
    ({"REDIS_URL": "", "REDIS_SENTINELS": "127.0.0.1:26379"},
     "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together"),
    ({"REDIS_SENTINEL_MASTER": "teamhub"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together"),
    ({"REDIS_URL": "", "REDIS_SENTINELS": "127.0.0.1:26379,sentinel-two", "REDIS_SENTINEL_MASTER": "teamhub"},
     "REDIS_SENTINELS must be a comma-separated list of host:port, got 'sentinel-two'"),
    ({"REDIS_URL": "", "REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_MASTER": "team hub"},
     "REDIS_SENTINEL_MASTER must be a master name"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_SENTINELS": "127.0.0.1:26379",
      "REDIS_SENTINEL_MASTER": "teamhub"}, "Set REDIS_URL or REDIS_SENTINELS, not both"),
    ({"REDIS_PASSWORD": "secret"}, "REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD apply only with REDIS_SENTINELS"),
], ids=["sentinels-without-master", "master-without-sentinels", "not-host-port", "bad-master-name",
        "url-and-sentinels", "password-without-sentinels"])
def test_incomplete_or_conflicting_redis_sentinel_settings_are_refused(env, message):
    result = _load_settings(SECRET_KEY="a-real-secret", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr

def test_sentinel_settings_configure_every_client_on_the_master():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "o = s.CACHES['default']['OPTIONS']; h = s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]; "
            "print(s.CACHES['default']['LOCATION'], o['SENTINELS'], o['SENTINEL_MASTER'], o['PASSWORD'], "
            "o['SENTINEL_KWARGS']['password']); "
            "print(h['master_name'], h['sentinels'], h['password'], h['sentinel_kwargs']['password']); "
            "print(s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS['master_name'], "
            "s.CELERY_RESULT_BACKEND == s.CELERY_BROKER_URL, "
            "s.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS['master_name'])")
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="a-real-secret", REDIS_URL="",
               REDIS_SENTINELS="10.0.0.1:26379, [fd00::2]:26380", REDIS_SENTINEL_MASTER="Teamhub",
               REDIS_PASSWORD="p@ss word", REDIS_SENTINEL_PASSWORD="s3ntinel")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    cache, layer, celery = result.stdout.strip().splitlines()
    assert cache == ("redis://Teamhub/0 [('10.0.0.1', 26379), ('fd00::2', 26380)] Teamhub p@ss word s3ntinel")
    assert layer == "Teamhub [('10.0.0.1', 26379), ('fd00::2', 26380)] p@ss word s3ntinel"
    assert celery == ("sentinel://:p%40ss%20word@10.0.0.1:26379/0;sentinel://:p%40ss%20word@[fd00::2]:26380/0 "
                      "Teamhub True Teamhub")
