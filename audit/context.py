"""Who, from where, in which request: the ambient context of an audit entry.

``AuditContextMiddleware`` fills a contextvar for each HTTP request; outside a
request (Celery tasks, management commands) it is empty and entries carry no
request id, IP or user agent. The IP is ``core.client_ip``'s, the one rule
for which address is the client's.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest

from core.client_ip import client_ip

REQUEST_ID_HEADER = "X-Request-ID"
# An inbound X-Request-ID is kept for correlation only when it looks like an id.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
_USER_AGENT_MAX = 1000


@dataclass(frozen=True)
class AuditContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""
    request: HttpRequest | None = None

    def user(self):
        """The request's authenticated user, read when the entry is written:
        DRF authenticates (token, API key) after the middleware has run."""
        user = getattr(self.request, "user", None) if self.request is not None else None
        return user if user is not None and user.is_authenticated else None


_EMPTY = AuditContext()
_context: ContextVar[AuditContext] = ContextVar("audit_context", default=_EMPTY)


def current() -> AuditContext:
    return _context.get()


def request_id_for(request: HttpRequest) -> str:
    inbound = request.META.get("HTTP_X_REQUEST_ID", "").strip()
    return inbound if _REQUEST_ID_RE.match(inbound) else uuid.uuid4().hex


def context_for(request: HttpRequest) -> AuditContext:
    return AuditContext(
        request_id=request_id_for(request),
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:_USER_AGENT_MAX],
        request=request,
    )


class AuditContextMiddleware:
    """Fills the audit context for the request and returns X-Request-ID."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        context = context_for(request)
        request.request_id = context.request_id
        token = _context.set(context)
        try:
            response = self.get_response(request)
        finally:
            _context.reset(token)
        response[REQUEST_ID_HEADER] = context.request_id
        return response

    async def __acall__(self, request):
        context = context_for(request)
        request.request_id = context.request_id
        token = _context.set(context)
        try:
            response = await self.get_response(request)
        finally:
            _context.reset(token)
        response[REQUEST_ID_HEADER] = context.request_id
        return response


class use_context:
    """Set the audit context for a block (tests, consumers, tasks that carry
    a request's id into background work)."""

    def __init__(self, context: AuditContext):
        self.context = context

    def __enter__(self):
        self._token = _context.set(self.context)
        return self.context

    def __exit__(self, *exc):
        _context.reset(self._token)
