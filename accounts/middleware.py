"""Ties browser sessions to their "My devices" row."""

from __future__ import annotations

from django.contrib import auth

from accounts import selectors, services
from accounts.authentication import client_ip
from accounts.models import DeviceSession

DEVICE_SESSION_KEY = "_device_session_id"


class WebSessionMiddleware:
    """For a signed-in browser: its device row must exist (revoking deletes
    it, so a revoked session is logged out here even if its Django session
    somehow survived); a session without a row (made before tracking) gets
    one. Writes to last_used_at / last_active_at are gated to one per interval."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request, user)
        return self.get_response(request)

    def _check(self, request, user) -> None:
        session_id = request.session.get(DEVICE_SESSION_KEY)
        row = selectors.web_session_get(user=user, session_id=session_id) if session_id else None
        if row is None and session_id:
            auth.logout(request)
            return
        if row is None:
            if not request.session.session_key:
                request.session.save()
            row = services.web_session_start(
                user=user,
                session_key=request.session.session_key,
                expires_at=request.session.get_expiry_date(),
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                audit=False,
            )
            request.session[DEVICE_SESSION_KEY] = str(row.pk)
        else:
            services.device_session_touch(session=row, session_key=request.session.session_key, ip=client_ip(request))
        services.user_touch_activity(user=user)


def current_device_session(request):
    """The device row of this request: the API token's, or the browser's."""
    auth_obj = getattr(request, "auth", None)
    if isinstance(auth_obj, DeviceSession):
        return auth_obj
    session = getattr(request, "session", None)
    if session is None or not request.user.is_authenticated:
        return None
    session_id = session.get(DEVICE_SESSION_KEY)
    return selectors.web_session_get(user=request.user, session_id=session_id) if session_id else None


