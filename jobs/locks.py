"""Redis coordination for jobs: the per-remote concurrency slots (seed 001
``lock:remote:{remote}``), the cancel signal and the daily counters."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from django.conf import settings

from config import redis_connections
from config.faults import OPEN, redis_policy

SLOT_TTL_SECONDS = 30  # refreshed by the running job's heartbeat
CANCEL_TTL_SECONDS = 24 * 3600
COUNTER_TTL_SECONDS = 400 * 24 * 3600

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
)


def _redis():
    return redis_connections.client()


def _key(*parts: str) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, *parts])


class RemoteSlots:
    """Up to JOBS_PER_REMOTE_CONCURRENCY holders per remote, each a key
    ``lock:remote:<name>:<n>`` with a TTL the heartbeat refreshes, so a dead
    worker's slot frees itself. A job's run holds its slots under its run
    token, so the sweep that recovers the job can free them at once
    (``release_run``) instead of the retry waiting out the TTL."""

    def __init__(self, remote_names: list[str], token: str | None = None):
        self.names = sorted(set(remote_names))
        self.token = token or uuid.uuid4().hex
        self.held: list[str] = []

    @staticmethod
    def _keys(name: str) -> list[str]:
        return [_key("lock", "remote", name, str(n)) for n in range(max(1, settings.JOBS_PER_REMOTE_CONCURRENCY))]

    def acquire(self) -> bool:
        client = _redis()
        for name in self.names:
            for key in self._keys(name):
                if client.set(key, self.token, nx=True, ex=SLOT_TTL_SECONDS):
                    self.held.append(key)
                    break
            else:
                self.release()
                return False
        return True

    def refresh(self) -> None:
        client = _redis()
        for key in self.held:
            client.eval(_REFRESH, 1, key, self.token, SLOT_TTL_SECONDS)

    def release(self) -> None:
        client = _redis()
        for key in self.held:
            client.eval(_RELEASE, 1, key, self.token)
        self.held = []


def release_run(remote_names: list[str], token: str) -> None:
    """Free whatever slots a (dead) run held under its token."""
    client = _redis()
    for name in set(remote_names):
        for key in RemoteSlots._keys(name):
            client.eval(_RELEASE, 1, key, token)


@redis_policy("job_cancel_flag", fails=OPEN, fallback=None,
              means="a running job's cancel reaches its runner through its next heartbeat (2 s) instead of the flag")
def request_cancel(job_id) -> None:
    _redis().set(_key("jobs", "cancel", str(job_id)), "1", ex=CANCEL_TTL_SECONDS)


def cancel_requested(job_id) -> bool:
    return bool(_redis().exists(_key("jobs", "cancel", str(job_id))))


def clear_cancel(job_id) -> None:
    _redis().delete(_key("jobs", "cancel", str(job_id)))


def count(name: str, *, kind: str = "") -> None:
    """Seed 001's per-day counters: stats:jobs:completed:{date},
    stats:errors:{date}:{type}."""
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    key = _key("stats", "jobs", name, day) if not kind else _key("stats", "errors", day, kind)
    client = _redis()
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    pipe.execute()


def counter(name: str, day: str, *, kind: str = "") -> int:
    key = _key("stats", "jobs", name, day) if not kind else _key("stats", "errors", day, kind)
    return int(_redis().get(key) or 0)
