"""Who is on the other end of a /ws/ socket: the user of the session cookie,
resolved once when the socket connects.

Channels' AuthMiddlewareStack does the same, and also wraps every frame the
socket sends, to save a modified session on the way out; only an HTTP
response can carry that, never a WebSocket frame, and on a socket relaying
thousands of frames the wrapper was a measurable part of the server's CPU
(bench/ws_fanout.py). Mobile clients without a cookie authenticate with an
``auth`` frame instead (chatroom.consumers)."""

from __future__ import annotations

from channels.auth import get_user
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings

from accounts.selectors import session_store


class _SessionUser(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        scope = dict(scope, session=session_store()(scope["cookies"].get(settings.SESSION_COOKIE_NAME)))
        # get_user checks the session's auth hash, so a changed password or a
        # flushed session gives AnonymousUser.
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)


def SessionUserMiddleware(inner):  # noqa: N802 - used like a middleware class
    return CookieMiddleware(_SessionUser(inner))
