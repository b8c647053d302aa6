"""Periodic work of the shared parts (CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

from celery import shared_task

from core.partitions import maintain


@shared_task(name="core.tasks.partitions_maintain")
def partitions_maintain() -> dict:
    report = maintain()
    return {"done": report.done, "default_rows": report.default_rows, "errors": report.errors}
