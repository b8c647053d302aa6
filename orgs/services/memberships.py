"""Memberships: add (a lapsed or deactivated membership is renewed in place),
update, remove (anyone may leave by themselves). An org never goes over
max_members, and its owner always keeps an active, permanent owner
membership."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.changes import UNSET, created, diff, given, removed, snapshot
from core.errors import Conflict, ValidationFailed
from orgs.models import (
    OWNER,
    Department,
    Membership,
    Organization,
    Position,
    Proxy,
    Role,
)
from orgs.permissions import active_membership_q, bump_version
from orgs.services.base import Who, lock_org, same_org, save
from orgs.services.structure import Structure, update_row

MEMBERSHIPS = Structure(
    model=Membership, resource="members", audit_stem="org.member",
    fields=("user", "role", "department", "position", "expires_at", "is_active"),
    locks_org=True,  # the org row lock makes the member count and the change atomic
    affects_grants=True,
    related=("role",),
)


def _check_refs(org: Organization, role, department, position) -> None:
    if role is not None and not (role.org_id is None or role.org_id == org.pk):
        raise ValidationFailed(fields={"role_id": [_("Not a role of this organization.")]})
    same_org(department, org, "department_id")
    same_org(position, org, "position_id")


def _check_future(expires_at, field="expires_at") -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(fields={field: [_("Must be in the future.")]})


def _check_room(org: Organization, *, besides: Q) -> None:
    """One more active member must fit in max_members."""
    current = org.memberships.filter(active_membership_q()).exclude(besides).count()
    if current >= org.max_members:
        raise Conflict(_("This organization is full (%(count)s members).") % {"count": org.max_members},
                       code="max_members_reached")


def _guard_owner(org: Organization, membership: Membership, *, removing: bool = False) -> None:
    """The org's owner always holds an active, permanent owner membership, so
    an org never has zero owners. Ownership moves only by transfer."""
    if membership.user_id != org.owner_id:
        return
    if (
        removing
        or membership.role.name != OWNER
        or membership.role.org_id is not None
        or not membership.is_active
        or membership.expires_at is not None
    ):
        raise Conflict(_("The owner must stay an owner; transfer ownership first."))


@transaction.atomic
def member_add(
    *,
    actor: User,
    org: Organization,
    user: User,
    role: Role,
    department: Department | None = None,
    position: Position | None = None,
    expires_at: datetime | None = None,
    acting_for: User | None = None,
    as_staff: bool = False,
) -> Membership:
    who = Who(actor, acting_for, as_staff)
    who.authorize(org, "members", "write")
    org = lock_org(org)
    _check_refs(org, role, department, position)
    _check_future(expires_at)
    if not user.is_active:
        raise ValidationFailed(fields={"user_id": [_("This account is not active.")]})
    who.require_covered(org, role.permissions, what=_("this role"))
    existing = Membership.objects.filter(org=org, user=user).first()
    if existing is not None and Membership.objects.filter(pk=existing.pk).filter(active_membership_q()).exists():
        raise Conflict(_("This user is already a member."))
    _check_room(org, besides=Q(user=user))
    # A lapsed or deactivated membership is renewed in place (unique (user, org)).
    membership = existing or Membership(org=org, user=user)
    before = snapshot(existing, MEMBERSHIPS.fields) if existing else None
    membership.role, membership.department, membership.position = role, department, position
    membership.expires_at, membership.is_active, membership.assigned_by = expires_at, True, actor
    if existing:
        membership.assigned_at = timezone.now()
    save(membership)
    who.audit("org.member.added", org=org, resource=membership,
              details=created(snapshot(membership, MEMBERSHIPS.fields), before))
    bump_version(org.pk)
    return membership


@transaction.atomic
def member_update(
    *,
    actor: User,
    membership: Membership,
    acting_for: User | None = None,
    as_staff: bool = False,
    role: Role = UNSET,
    department: Department | None = UNSET,
    position: Position | None = UNSET,
    expires_at: datetime | None = UNSET,
    is_active: bool = UNSET,
) -> Membership:
    who = Who(actor, acting_for, as_staff)

    def check(org: Organization, current: Membership, changes: dict) -> None:
        who.require_covered(org, current.role.permissions, what=_("this member"))
        _check_refs(org, changes.get("role"), changes.get("department"), changes.get("position"))
        if "role" in changes:
            who.require_covered(org, changes["role"].permissions, what=_("this role"))
        if "expires_at" in changes:
            _check_future(changes["expires_at"])
        if changes.get("is_active") and not current.is_active:
            # Re-activation adds a member back: it counts against max_members.
            _check_room(org, besides=Q(pk=current.pk))

    return update_row(
        MEMBERSHIPS, who, membership,
        given(role=role, department=department, position=position, expires_at=expires_at, is_active=is_active),
        before=check, after=_guard_owner,
    )


@transaction.atomic
def member_remove(
    *, actor: User, membership: Membership, acting_for: User | None = None, as_staff: bool = False
) -> None:
    who = Who(actor, acting_for, as_staff)
    org = membership.org
    if membership.user_id != actor.pk or acting_for is not None:  # anyone may leave by themselves
        who.authorize(org, "members", "delete")
    org = lock_org(org)
    membership = Membership.objects.select_related("role").get(pk=membership.pk)
    if membership.user_id != actor.pk:
        who.require_covered(org, membership.role.permissions, what=_("this member"))
    _guard_owner(org, membership, removing=True)
    who.audit("org.member.removed", org=org, resource=membership,
              details=removed(snapshot(membership, MEMBERSHIPS.fields)))
    # Proxies to or from someone who left stop for good, not just while they are away.
    for proxy in Proxy.objects.filter(org=org, is_active=True).filter(
        Q(principal_id=membership.user_id) | Q(agent_id=membership.user_id)
    ):
        proxy.is_active = False
        proxy.save(update_fields=["is_active", "updated_at"])
        who.audit("org.proxy.deactivated", org=org, resource=proxy, details={"is_active": diff(True, False)})
    Department.objects.filter(org=org, manager_id=membership.user_id).update(manager=None)
    membership.delete()
    bump_version(org.pk)
