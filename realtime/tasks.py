"""Presence's periodic sweep (Celery beat), beside the one every server
process runs (realtime.sweeper): with no server process left, beat still
ends the sessions of a killed server's sockets."""

from __future__ import annotations

from celery import shared_task

from realtime import presence


@shared_task(name="realtime.presence_sweep")
def presence_sweep() -> int:
    """End the presence sessions whose sockets all stopped sending heartbeats
    (their server died), at their last heartbeat."""
    return presence.sweep()
