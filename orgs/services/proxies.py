"""Proxies: one member acting for another in an org, for a time window and
within given permissions. Principals may delegate (and end their delegation)
themselves; anyone else needs the proxies rights and must hold at least what
the principal holds (otherwise an admin could borrow the owner's rights)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.changes import UNSET, apply_changes, created, given, removed, snapshot
from core.errors import Conflict, ValidationFailed
from orgs.models import Organization, Proxy
from orgs.permissions import bump_version, permissions_errors
from orgs.services.base import Who, lock_org, require_member, save

PROXY_FIELDS = ("principal", "agent", "permissions", "starts_at", "expires_at", "is_active")


@transaction.atomic
def proxy_create(
    *,
    actor: User,
    org: Organization,
    principal: User,
    agent: User,
    permissions: dict,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    acting_for: User | None = None,
    as_staff: bool = False,
) -> Proxy:
    """Let `agent` act for `principal` in `org`."""
    who = Who(actor, acting_for, as_staff)
    if principal.pk != actor.pk or acting_for is not None:
        who.authorize(org, "proxies", "write")
    else:
        Who(actor).authorize(org, "org", "read")
    org = lock_org(org)
    errors = {}
    if principal.pk == agent.pk:
        errors["agent_id"] = [_("A user cannot be their own proxy.")]
    perm_errors = permissions_errors(permissions)
    if perm_errors:
        errors["permissions"] = perm_errors
    starts_at = starts_at or timezone.now()
    if expires_at is not None and expires_at <= starts_at:
        errors["expires_at"] = [_("Must be after the start.")]
    elif expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("Must be in the future.")]
    if errors:
        raise ValidationFailed(fields=errors)
    principal_membership = require_member(principal, org, "principal_id")
    require_member(agent, org, "agent_id")
    if principal.pk != actor.pk:
        who.require_covered(org, principal_membership.role.permissions, what=_("proxies for this user"))
    existing = Proxy.objects.filter(org=org, principal=principal, agent=agent).first()
    now = timezone.now()
    if existing is not None and existing.is_active and (existing.expires_at is None or existing.expires_at > now):
        raise Conflict(_("This proxy already exists; delete it first to change it."))
    # A lapsed proxy for the same pair is replaced in place (unique (principal, agent, org)).
    proxy = existing or Proxy(org=org, principal=principal, agent=agent)
    before = snapshot(existing, PROXY_FIELDS) if existing else None
    proxy.permissions, proxy.starts_at, proxy.expires_at = permissions, starts_at, expires_at
    proxy.is_active, proxy.created_by = True, actor
    save(proxy)
    who.audit("org.proxy.created", org=org, resource=proxy, details=created(snapshot(proxy, PROXY_FIELDS), before))
    bump_version(org.pk)
    return proxy


@transaction.atomic
def proxy_update(
    *,
    actor: User,
    proxy: Proxy,
    acting_for: User | None = None,
    as_staff: bool = False,
    permissions: dict = UNSET,
    expires_at: datetime | None = UNSET,
    is_active: bool = UNSET,
) -> Proxy:
    who = Who(actor, acting_for, as_staff)
    org = proxy.org
    if proxy.principal_id != actor.pk or acting_for is not None:
        who.authorize(org, "proxies", "write")
    proxy = Proxy.objects.select_for_update().get(pk=proxy.pk)
    if permissions is not UNSET:
        perm_errors = permissions_errors(permissions)
        if perm_errors:
            raise ValidationFailed(fields={"permissions": perm_errors})
    if expires_at is not UNSET and expires_at is not None and expires_at <= proxy.starts_at:
        raise ValidationFailed(fields={"expires_at": [_("Must be after the start.")]})
    changed = apply_changes(proxy, given(permissions=permissions, expires_at=expires_at, is_active=is_active))
    save(proxy)
    if changed:
        who.audit("org.proxy.updated", org=org, resource=proxy, details=changed)
        bump_version(org.pk)
    return proxy


@transaction.atomic
def proxy_delete(*, actor: User, proxy: Proxy, acting_for: User | None = None, as_staff: bool = False) -> None:
    who = Who(actor, acting_for, as_staff)
    org = proxy.org
    # Either side may end a proxy; others need proxies.delete.
    if actor.pk not in (proxy.principal_id, proxy.agent_id) or acting_for is not None:
        who.authorize(org, "proxies", "delete")
    who.audit("org.proxy.deleted", org=org, resource=proxy, details=removed(snapshot(proxy, PROXY_FIELDS)))
    proxy.delete()
    bump_version(org.pk)
