"""Browser logins and logouts (pages, admin, anything using
django.contrib.auth.login/logout) become device sessions."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts import selectors, services
from accounts.authentication import client_ip
from accounts.middleware import DEVICE_SESSION_KEY


@receiver(user_logged_in, dispatch_uid="accounts.web_login")
def on_web_login(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is None:
        return
    if not session.session_key:
        session.save()
    row = services.web_session_start(
        user=user,
        session_key=session.session_key,
        expires_at=session.get_expiry_date(),
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    session[DEVICE_SESSION_KEY] = str(row.pk)


@receiver(user_logged_out, dispatch_uid="accounts.web_logout")
def on_web_logout(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if user is None or session is None:
        return
    session_id = session.get(DEVICE_SESSION_KEY)
    row = selectors.web_session_get(user=user, session_id=session_id) if session_id else None
    if row is not None:
        services.logout(session=row)
