"""Critical alerts to staff: the one hook notifications plug into.

There is no notifications model yet. Until there is, an alert is logged at
CRITICAL and recorded as a critical audit entry (``alert.<code>``), which the
admin's audit list shows under level "critical". When notifications exist,
send the staff notification from ``alert_staff`` and nowhere else.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger("audit.alerts")


def alert_staff(*, code: str, message: str, details: dict | None = None) -> None:
    from audit.services import audit_record

    logger.critical("%s: %s %s", code, message, details or {})
    with transaction.atomic():
        audit_record(
            action=f"alert.{code}",
            result="failure",
            level="critical",
            resource_type="alert",
            resource_id=code,
            details={"message": message, **(details or {})},
        )
    # Notifications (later issue): notify every staff user here, on commit.
