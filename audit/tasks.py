"""Periodic audit work (CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

import logging

from celery import shared_task

from audit.verification import anchor_head, report_break, verify_recent

logger = logging.getLogger(__name__)


@shared_task(name="audit.tasks.audit_verify_recent")
def audit_verify_recent() -> dict:
    result = verify_recent()
    if not result.ok:
        report_break(result)
    return result.as_dict()


@shared_task(name="audit.tasks.audit_anchor")
def audit_anchor() -> dict:
    return anchor_head()
