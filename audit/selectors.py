"""Reads of the audit trail, scoped to who asks."""

from __future__ import annotations

from django.db.models import QuerySet

from audit import org_scope
from audit.models import AuditLog


def audit_org_ids(*, user, acting_for=None) -> list | None:
    """The orgs whose entries ``user`` may read: None means every entry (staff).

    The one place that decides it: staff read everything; anyone else reads
    the orgs where orgs' permission check lets them read the audit trail,
    acting for ``acting_for`` through a proxy when given (audit.org_scope).
    """
    if not user.is_authenticated:
        return []
    if user.is_staff:
        return None
    return list(org_scope.readable_org_ids(user=user, acting_for=acting_for))


def audit_entries(*, user, acting_for=None, org_id=None, actor_id=None, action: str = "", result: str = "",
                  since=None, until=None) -> QuerySet[AuditLog]:
    """Entries ``user`` (as ``acting_for``) may read, filtered, newest first."""
    org_ids = audit_org_ids(user=user, acting_for=acting_for)
    queryset = AuditLog.objects.all() if org_ids is None else AuditLog.objects.filter(org_id__in=org_ids)
    if org_id:
        queryset = queryset.filter(org_id=org_id)
    if actor_id:
        queryset = queryset.filter(actor_id=actor_id)
    if action:
        # "auth." lists a whole family; anything else is an exact code.
        queryset = queryset.filter(action__startswith=action) if action.endswith(".") else queryset.filter(action=action)
    if result:
        queryset = queryset.filter(result=result)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lte=until)
    return queryset.order_by("-created_at", "-id")
