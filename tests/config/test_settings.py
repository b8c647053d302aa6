"""Settings come from the environment and refuse unsafe combinations."""

import os
import subprocess
import sys
from pathlib import Path

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
