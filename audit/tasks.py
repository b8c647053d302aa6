"""Periodic audit and partition work (CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

import logging

from celery import shared_task

from audit import anchors
from audit.partitioning import maintain
from audit.verification import latest_anchor_time, report_break, verify, verify_recent

logger = logging.getLogger(__name__)


@shared_task(name="audit.tasks.partitions_maintain")
def partitions_maintain() -> dict:
    report = maintain()
    return {"done": report.done, "default_rows": report.default_rows, "errors": report.errors}


@shared_task(name="audit.tasks.audit_verify_recent")
def audit_verify_recent() -> dict:
    result = verify_recent()
    if not result.ok:
        report_break(result)
    return result.as_dict()


def anchor_chain_head() -> dict:
    """Verify since the previous anchor, then anchor the head. A broken chain
    is not anchored: signing a tampered head would vouch for it."""
    result = verify(since=latest_anchor_time())
    if not result.ok:
        report_break(result)
        return {**result.as_dict(), "anchor": None}
    return {**result.as_dict(), "anchor": anchors.write_anchor()}


@shared_task(name="audit.tasks.audit_anchor")
def audit_anchor() -> dict:
    return anchor_chain_head()
