"""Reads of the audit trail, scoped to who asks."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditLog

# The org roles whose holders read their org's audit entries.
ORG_AUDIT_READER_ROLES = ("owner", "admin")


def audit_org_ids(*, user) -> list | None:
    """The orgs whose entries ``user`` may read: None means every entry (staff).

    The one place that decides it: staff read everything; an active owner or
    admin of an org reads that org's entries (orgs' Membership and its
    system role); anyone else reads nothing.
    """
    if not user.is_authenticated:
        return []
    if user.is_staff:
        return None
    try:
        from orgs.models import Membership
        from orgs.permissions import active_membership_q
    except ImportError:  # orgs without memberships: staff only
        return []
    return list(
        Membership.objects.filter(
            active_membership_q(), user=user, org__is_active=True,
            role__name__in=ORG_AUDIT_READER_ROLES, role__is_system_role=True,
        ).values_list("org_id", flat=True)
    )


def audit_entries(*, user, org_id=None, actor_id=None, action: str = "", result: str = "",
                  since=None, until=None) -> QuerySet[AuditLog]:
    """Entries ``user`` may read, filtered, newest first."""
    org_ids = audit_org_ids(user=user)
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
