"""Critical alerts to staff: the one place that raises them.

An alert is logged at CRITICAL, recorded as a critical audit entry
(``alert.<code>``, shown under level "critical" in the admin's audit list),
and sent as an urgent ``system_alert`` notification to every active staff
user, in the same transaction as the audit entry. Send staff alerts from
``alert_staff`` and nowhere else.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.urls import reverse

from accounts import notifications
from accounts.models import User
from audit.services import audit_record

logger = logging.getLogger("audit.alerts")


def alert_staff(*, code: str, message: str, details: dict | None = None) -> None:
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
        try:
            # A savepoint: failing to notify must not lose the critical audit
            # entry above (the log line and the entry still tell staff).
            with transaction.atomic():
                _notify_staff(code=code, message=message, details=details)
        except Exception:  # noqa: BLE001
            logger.exception("could not notify staff of alert %s", code)


def _notify_staff(*, code: str, message: str, details: dict | None) -> None:
    details = json.loads(json.dumps(details or {}, default=str))  # plain JSON, whatever the caller passed
    url = reverse("admin:audit_auditlog_changelist") + "?level__exact=critical"
    title, spec = notifications.coded("alert", check=code)  # the title in each reader's language
    drafts = [
        notifications.Draft(
            user_id=user_id, type=notifications.Type.SYSTEM_ALERT, priority=notifications.Priority.URGENT,
            title=title, message=message,
            data={"i18n": spec, "code": code, "details": details, "url": url},
        )
        for user_id in User.objects.filter(is_staff=True, status=User.Status.ACTIVE).values_list("id", flat=True)
    ]
    notifications.notify_many(drafts=drafts)
