"""Critical alerts to staff from the bottom layer.

Sending one takes the audit trail and staff notifications, which sit above
core; so core only declares the hook and audit fills it
(``audit.alerts.alert_staff``, registered in ``AuditConfig.ready``).
"""

from __future__ import annotations

from core.hooks import Hook

staff_alert = Hook("the staff alert sender", provider="audit")


def alert_staff(*, code: str, message: str, details: dict | None = None) -> None:
    """Raise ``code`` to staff: logged at CRITICAL, a critical audit entry and
    an urgent notification to every active staff user."""
    staff_alert(code=code, message=message, details=details)
