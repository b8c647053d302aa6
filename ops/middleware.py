"""Counts every HTTP answer: Prometheus counters and latency histograms by
view and status (ops.prom), and this process's per-minute window for the
samples (ops.counters). Loading it starts the process's sampler."""

from __future__ import annotations

import time

from datetime import datetime, timezone

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.functional import empty

from ops import counters, prom, sampler


def view_label(request) -> str:
    """The route's name, never the raw path (whose ids would make a label
    per object); unrouted paths share one label."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    return match.view_name or match._func_path


class HttpMetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        sampler.start("web")

    def _count(self, request, response, started: float) -> None:
        duration = time.perf_counter() - started
        view = view_label(request)
        prom.HTTP_REQUESTS.labels(view=view, method=request.method if request.method in _METHODS else "other",
                                  status=str(response.status_code)).inc()
        prom.HTTP_LATENCY.labels(view=view).observe(duration)
        counters.request_done(duration, response.status_code, view)
        # Set by the session middleware, or by DRF's token and key
        # authentication (it sets the user on the request it wraps).
        # Only a user already loaded: loading one here would query the
        # database after the answer (twice, for a request that found it
        # down), and from the event loop under ASGI.
        user = getattr(request, "user", None)
        user = getattr(user, "_wrapped", user)
        if user is not None and user is not empty and getattr(user, "is_authenticated", False):
            counters.user_seen(datetime.now(timezone.utc).date().isoformat(), user.pk)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._count(request, response, started)
        return response

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        self._count(request, response, started)
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
