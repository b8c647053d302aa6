"""Who is on the other end of a /ws/ socket: the user of the session cookie,
resolved once when the socket connects, and only when the handshake's
Origin is one Django's CSRF check would accept.

The origin check guards cookie sessions only (api.md, v1 additions). A
browser sends the site's cookie with any page's handshake, including a page
on another port of the same host, so a cookie counts only from an allowed
origin: the socket's own (the scheme, and the Host header as validated by
ALLOWED_HOSTS, port included) or one in CSRF_TRUSTED_ORIGINS. That is the
rule Django's CsrfViewMiddleware applies to an unsafe request's Origin, and
it is applied here by that very code. A cookie from any other origin, or
without one, is ignored: the socket is cookie-less and may still
authenticate with an ``auth`` frame (mobile clients send no Origin at all),
which a page elsewhere cannot forge because a token is no ambient credential.
A handshake whose Host is not allowed is refused, as Django refuses such a
request.

Channels' AuthMiddlewareStack resolves the user too, and also wraps every
frame the socket sends, to save a modified session on the way out; only an
HTTP response can carry that, never a WebSocket frame, and on a socket
relaying thousands of frames the wrapper was a measurable part of the
server's CPU (bench/ws_fanout.py)."""

from __future__ import annotations

import logging

from channels.auth import get_user
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from accounts.selectors import session_store
from config.faults import DATABASE_ERRORS as DATABASE_DOWN

logger = logging.getLogger(__name__)


class Handshake(HttpRequest):
    """A WebSocket handshake as the HttpRequest that Django's Host and Origin
    checks read: its headers in META (as ASGIRequest puts them), and the
    scheme, https for wss (or as SECURE_PROXY_SSL_HEADER says)."""

    def __init__(self, scope):
        super().__init__()
        for name, value in scope.get("headers", ()):
            key = "HTTP_" + name.decode("latin1").upper().replace("-", "_")
            value = value.decode("latin1")
            self.META[key] = f"{self.META[key]},{value}" if key in self.META else value
        server = scope.get("server") or (None, None)
        self.META["SERVER_NAME"] = server[0] or ""
        self.META["SERVER_PORT"] = str(server[1] or "")
        self._secure = scope.get("scheme") in ("wss", "https")

    def _get_scheme(self):
        return "https" if self._secure else "http"


def host_allowed(request: HttpRequest) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return True


def origin_allowed(request: HttpRequest) -> bool:
    """Whether the handshake's Origin passes Django's CSRF Origin check.
    The middleware is made per call: its trusted origins are read from
    settings once per instance."""
    if "HTTP_ORIGIN" not in request.META:
        return False
    return CsrfViewMiddleware(lambda r: None)._origin_verified(request)


class _SessionUser(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        request = Handshake(scope)
        if not host_allowed(request):
            return await WebsocketDenier.as_asgi()(scope, receive, send)
        key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        # Set when a session cookie came from an origin that may not use it:
        # the consumer then closes with 4403 unless an auth frame follows.
        refused = bool(key) and not origin_allowed(request)
        scope = dict(scope, session=session_store()(None if refused else key), cookie_refused=refused)
        try:
            # get_user checks the session's auth hash, so a changed password
            # or a flushed session gives AnonymousUser.
            scope["user"] = await get_user(scope) if key and not refused else AnonymousUser()
        except DATABASE_DOWN:
            logger.warning("socket handshake: the session could not be read (database unavailable)")
            scope["user"], scope["auth_unavailable"] = AnonymousUser(), True
        return await self.inner(scope, receive, send)


def SessionUserMiddleware(inner):  # noqa: N802 - used like a middleware class
    return CookieMiddleware(_SessionUser(inner))
