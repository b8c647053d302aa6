"""The API's sliding-window rate limits, kept in Redis (accounts.ratelimit)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from accounts import ratelimit
from accounts.authentication import client_ip
from accounts.models import ApiKey
from config.faults import OPEN, redis_policy


@redis_policy("api_throttle", fails=OPEN, fallback=(True, 0.0),
              means="API requests are not rate-limited (the lockout still guards logins)")
def _hit(ident: str, *, limit: int, window: float) -> tuple[bool, float]:
    return ratelimit.sliding_window_hit(ident, limit=limit, window=window)


class SlidingWindowThrottle(BaseThrottle):
    """Per API key (its own limit) and per user (API_RATE_LIMIT_PER_MINUTE),
    a key's requests counting for both; per IP for anonymous requests
    (API_ANON_RATE_LIMIT_PER_MINUTE). The limits count requests, not accounts,
    so they say nothing about whether an account exists."""

    window = 60.0

    def allow_request(self, request, view):
        checks = []
        if isinstance(request.auth, ApiKey):
            checks.append((f"key:{request.auth.pk}", request.auth.rate_limit_per_minute))
        if request.user and request.user.is_authenticated:
            checks.append((f"user:{request.user.pk}", settings.API_RATE_LIMIT_PER_MINUTE))
        else:
            checks.append((f"ip:{client_ip(request)}", settings.API_ANON_RATE_LIMIT_PER_MINUTE))
        self._wait = 0.0
        for ident, limit in checks:
            allowed, wait = _hit(ident, limit=limit, window=self.window)
            if not allowed:
                self._wait = wait
                return False
        return True

    def wait(self):
        return max(1.0, self._wait)
