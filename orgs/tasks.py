"""Periodic org housekeeping (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from orgs.services import tidy_expired


@shared_task(name="orgs.tidy_expired")
def tidy_expired_org_rows() -> dict:
    """Mark lapsed memberships and proxies inactive. Housekeeping only: the
    permission check stops granting at the moment of expiry either way."""
    return tidy_expired()
