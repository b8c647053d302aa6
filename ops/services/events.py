"""system_events: what the system did. Operational records, not the audit
trail: they carry no actor's intent and are not hash-chained, so they are
written on their own (an event for a rolled-back step would be a lie, so
callers record after the fact), and a failure to write one is logged, never
raised into the work it describes."""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction

from ops.models import SystemEvent
from ops.process import server_id

logger = logging.getLogger(__name__)


def event_record(*, event_type: str, event_name: str, data: dict | None = None, resource_type: str = "",
                 resource_id=None) -> SystemEvent | None:
    try:
        with transaction.atomic():
            return SystemEvent.objects.create(
                event_type=event_type, event_name=event_name, data=data or {}, resource_type=resource_type,
                resource_id=resource_id, metadata={"server_id": server_id()})
    except DatabaseError as exc:
        logger.warning("system event %s.%s not recorded: %s", event_type, event_name, exc)
        return None
