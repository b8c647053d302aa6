"""Periodic account housekeeping (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from accounts.notifications import notifications_purge_expired
from accounts.presence import sweep
from accounts.services import sessions_purge_expired


@shared_task(name="accounts.purge_expired_sessions")
def purge_expired_sessions() -> dict:
    """Delete expired device sessions and Django sessions. Housekeeping only:
    an expired token or cookie is refused at the moment it expires either way."""
    return sessions_purge_expired()


@shared_task(name="accounts.purge_expired_notifications")
def purge_expired_notifications() -> int:
    """Delete notifications past their expiry. Housekeeping only: they left
    the list, the API and the badge at the moment they expired."""
    return notifications_purge_expired()


@shared_task(name="accounts.presence_sweep")
def presence_sweep() -> int:
    """End the presence sessions whose sockets all stopped sending heartbeats
    (their server died), at their last heartbeat."""
    return sweep()
