"""Housekeeping: lapsed memberships and proxies are marked inactive. The
permission check already ignores them from the moment they expire."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.changes import diff
from orgs.models import Membership, Proxy
from orgs.permissions import bump_version
from orgs.services.base import Who

SYSTEM = Who(None)  # the beat task: nobody in person


@transaction.atomic
def tidy_expired(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    counts = {"memberships": 0, "proxies": 0}
    orgs = set()
    lapsed = {"is_active": True, "expires_at__lte": now}
    memberships = Membership.objects.select_for_update(skip_locked=True, of=("self",)).filter(**lapsed)
    for membership in memberships.select_related("org"):
        if membership.user_id == membership.org.owner_id:
            continue  # cannot happen through services; never strand an org without its owner
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        SYSTEM.audit("org.member.expired", org=membership.org, resource=membership,
                     details={"is_active": diff(True, False)})
        counts["memberships"] += 1
        orgs.add(membership.org_id)
    proxies = Proxy.objects.select_for_update(skip_locked=True, of=("self",)).filter(**lapsed)
    for proxy in proxies.select_related("org"):
        proxy.is_active = False
        proxy.save(update_fields=["is_active", "updated_at"])
        SYSTEM.audit("org.proxy.expired", org=proxy.org, resource=proxy, details={"is_active": diff(True, False)})
        counts["proxies"] += 1
        orgs.add(proxy.org_id)
    for org_id in orgs:
        bump_version(org_id)
    return counts
