"""Redis counters for login lockout and the API's sliding windows.

Keys go through the cache's make_key, so they carry the deployment's
REDIS_KEY_PREFIX like every other cache key. Each check is one Lua script, so
concurrent requests cannot race past a limit.

While Redis is down the lockout fails closed (a login answers 503: counting
failures is what keeps password guessing slow), clearing a login's failures
and the activity gate fail open (config.faults policies). The sliding
window's callers choose their own policy.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from config import redis_connections
from config.faults import CLOSED, OPEN, redis_policy

_SLIDING_WINDOW = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""

# Count a failure: the count lives for the window from the first failure; the
# failure that reaches the limit makes it live for the lockout instead, so a
# lockout always lasts its full length from the last counted failure.
_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return n
"""

_scripts: dict[str, object] = {}


def _redis():
    return redis_connections.client()


def _run_script(source: str, *, keys: list, args: list):
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = _redis().register_script(source)
    # On the current client, not the one the script was first registered
    # with (settings can point the cache at another Redis, as tests do).
    return script(keys=keys, args=args, client=_redis())


def _key(*parts: str) -> str:
    return cache.make_key("rl:" + ":".join(parts))


def sliding_window_hit(ident: str, *, limit: int, window: float = 60.0) -> tuple[bool, float]:
    """Record one request for ``ident``. Returns (allowed, seconds to wait)."""
    now = time.time()
    allowed, wait = _run_script(_SLIDING_WINDOW, keys=[_key("win", ident)],
                                args=[now, window, limit, f"{now}:{uuid.uuid4().hex}"])
    return bool(int(allowed)), max(0.0, float(wait))


@redis_policy("password_reset_mail_limit", fails=CLOSED,
              means="the password reset page answers 503: its mails could not be limited")
def password_reset_allowed(*, ip: str | None, email: str, per_ip: int, per_email: int, window: float) -> bool:
    """One reset mail request counted against its IP's and its address's limit."""
    return all(
        sliding_window_hit(ident, limit=limit, window=window)[0]
        for ident, limit in ((f"pwreset:ip:{ip}", per_ip), (f"pwreset:email:{hashed(email)}", per_email))
    )


# --------------------------------------------------------------------------- login lockout


def hashed(value: str) -> str:
    """For key names: no username or address sits in Redis in the clear."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def _login_ident(login: str) -> str:
    return hashed(login)


def _login_keys(ip: str | None, login: str) -> list[tuple[str, int]]:
    keys = [(_key("loginfail", "login", _login_ident(login)), settings.LOGIN_FAILURE_LIMIT_PER_LOGIN)]
    if ip:
        keys.append((_key("loginfail", "ip", ip), settings.LOGIN_FAILURE_LIMIT_PER_IP))
    return keys


_LOGIN_LOCKOUT = redis_policy(
    "login_lockout", fails=CLOSED,
    means="logging in (page and API) answers 503: failures could not be counted, so guessing would be unlimited",
)


@_LOGIN_LOCKOUT
def login_locked_for(*, ip: str | None, login: str) -> int | None:
    """Seconds until this login or IP may try again, or None when not locked."""
    conn = _redis()
    worst = None
    for key, limit in _login_keys(ip, login):
        count = conn.get(key)
        if count is not None and int(count) >= limit:
            ttl = conn.ttl(key)
            ttl = ttl if ttl and ttl > 0 else settings.LOGIN_LOCKOUT_SECONDS
            worst = max(worst or 0, ttl)
    return worst


@_LOGIN_LOCKOUT
def login_failure_record(*, ip: str | None, login: str) -> None:
    for key, limit in _login_keys(ip, login):
        _run_script(_FAILURE, keys=[key],
                    args=[settings.LOGIN_FAILURE_WINDOW_SECONDS, limit, settings.LOGIN_LOCKOUT_SECONDS])


@redis_policy("login_lockout_clear", fails=OPEN, fallback=None,
              means="a good password does not clear its login's earlier failures; they expire on their own")
def login_success_record(*, login: str) -> None:
    """A good password clears that login's failures (not the IP's)."""
    _redis().delete(_login_keys(None, login)[0][0])


@redis_policy("activity_gate", fails=OPEN, fallback=False,
              means="last_active_at is not written (rather than written on every request)")
def gate(name: str, *, seconds: int) -> bool:
    """True at most once per ``seconds`` for ``name`` (SET NX EX): used to write
    bookkeeping like last_active_at rarely instead of on every request."""
    return bool(cache.add(f"gate:{name}", 1, timeout=max(1, math.ceil(seconds))))
