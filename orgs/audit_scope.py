"""What audit asks of orgs (audit.org_scope; registered in OrgsConfig.ready).

Audit sits below orgs, so it cannot look organizations up itself: it asks
which orgs' entries a user may read, and which org an admin-edited object
belongs to.
"""

from __future__ import annotations

from orgs.models import Membership, Organization
from orgs.permissions import active_membership_q, has_permission

# Reading an org's audit trail shows what everyone in it did: a manager's
# power, not a member's. Every member holds {"*": ["read"]}, so it takes
# "write" on "audit": the owner and admin system roles hold it and member
# does not; a custom role or a proxy grants it like any other permission.
AUDIT_READ = ("audit", "write")


def audit_readable_org_ids(*, user, acting_for=None) -> list:
    """The orgs whose audit entries ``user`` may read, acting for
    ``acting_for`` through a proxy when given: wherever the one permission
    check (has_permission, with its proxy windows and membership expiry) allows
    AUDIT_READ."""
    if acting_for is not None and acting_for.pk == user.pk:
        acting_for = None  # acting for yourself is just being yourself
    if acting_for is None:
        candidates = Organization.objects.filter(
            memberships__in=Membership.objects.filter(active_membership_q(), user=user))
    else:
        candidates = Organization.objects.filter(
            proxies__agent=user, proxies__principal=acting_for, proxies__is_active=True)
    return [org.pk for org in candidates.filter(is_active=True).distinct()
            if has_permission(user, org, *AUDIT_READ, acting_for=acting_for)]


def org_of(obj) -> Organization | None:
    """The organization ``obj`` belongs to (itself, for an organization)."""
    if isinstance(obj, Organization):
        return obj
    org = getattr(obj, "org", None) or getattr(obj, "organization", None)
    return org if isinstance(org, Organization) else None
