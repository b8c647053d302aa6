"""Periodic operations work (CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from ops.services.daily_stats import stats_compute_day


@shared_task(name="ops.tasks.daily_stats")
def daily_stats(day: str | None = None) -> dict:
    """Yesterday's (UTC) rows by default; runs at 00:05 UTC, and again
    safely (the rows are recomputed, not added to)."""
    target = date.fromisoformat(day) if day else (timezone.now() - timedelta(days=1)).date()
    result = stats_compute_day(day=target)
    return {"day": target.isoformat(), "users": result.users, "active_users": result.stat.active_users}
