"""Every write to orgs goes through here (architecture.md, "services").

Each service takes keyword-only arguments, runs in one transaction, checks
the actor's permission with orgs.permissions.has_permission (through
`_authorize`), writes one audit entry per change with old and new values, and
invalidates cached grants when the change can affect them.

Common arguments:
- `actor`: the user making the change.
- `acting_for`: the principal when the actor acts through a proxy (X-Act-As,
  or the pages' "acting as" switch). Permission is then the intersection of
  the principal's role and the proxy, and the audit entry names both.
- `as_staff`: set only by the Django admin: a staff actor may then manage any
  org without being a member of it.

Permission resources used here: org, departments, positions, roles, members,
proxies; actions read, write, delete, plus org.deactivate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, PermissionDenied, ValidationFailed, validate_model
from core.jsonable import jsonable
from orgs.models import ADMIN, OWNER, Department, Membership, Organization, Position, Proxy, Role
from orgs.permissions import active_membership_q, bump_version, covers, effective_grant, permissions_errors
from orgs.permissions import authorize as _authorize

_UNSET: Any = object()  # "leave this field alone" where None is a real value


# --------------------------------------------------------------------------- helpers


def _audit(action: str, *, actor, org, resource, acting_for=None, details: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource_type=resource._meta.model_name if resource is not None else "",
        resource_id=str(resource.pk) if resource is not None else "",
        details=details,
    )


def _snapshot(obj, fields: list[str]) -> dict:
    out = {}
    for name in fields:
        field = obj._meta.get_field(name)
        out[name] = jsonable(getattr(obj, field.attname))
    return out


def _changes(before: dict, after: dict) -> dict:
    """{"old": {...}, "new": {...}} for the fields that changed."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {"old": {k: before.get(k) for k in changed}, "new": {k: after[k] for k in changed}}


def _actor_permissions(actor, org, acting_for, as_staff) -> list[dict]:
    if as_staff and actor.is_staff and actor.is_active:
        return [{"*": ["*"]}]
    return effective_grant(actor, org, acting_for=acting_for).permissions or []


def _require_covered(actor, org, granted: dict, *, acting_for, as_staff, what: str) -> None:
    """Nobody hands out (or manages someone holding) more than they hold."""
    if not all(covers(p, granted) for p in _actor_permissions(actor, org, acting_for, as_staff)):
        raise PermissionDenied(f"You cannot manage {what}: it holds permissions you do not have.")


def _lock_org(org: Organization) -> Organization:
    """Serialize changes to one org's members and tree (max_members, cycles, owners)."""
    return Organization.objects.select_for_update().get(pk=org.pk)


def _same_org(obj, org, field: str):
    if obj is not None and obj.org_id != org.pk:
        raise ValidationFailed(fields={field: ["Not part of this organization."]})


def _require_member(user, org, field: str) -> Membership:
    membership = Membership.objects.filter(user=user, org=org).filter(active_membership_q()).first()
    if membership is None or not user.is_active:
        raise ValidationFailed(fields={field: ["Must be an active member of this organization."]})
    return membership


def _save(obj, *, exclude=None) -> None:
    """Validate, then save; a unique race that slips past validation is a 409."""
    validate_model(obj, exclude=exclude)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict("That conflicts with an existing record.") from exc


# --------------------------------------------------------------------------- organizations

ORG_FIELDS = ["name", "display_name", "description", "settings", "max_members", "is_active", "owner"]


@transaction.atomic
def org_create(
    *,
    owner: User,
    name: str,
    display_name: str = "",
    description: str = "",
    max_members: int | None = None,
    settings: dict | None = None,
    actor: User | None = None,
) -> Organization:
    """Create an org; `owner` becomes its owner member. `actor` (default: the
    owner) is who did it, e.g. staff creating an org for someone in the admin."""
    actor = actor or owner
    if not owner.is_active:
        raise PermissionDenied("Inactive accounts cannot create organizations.")
    org = Organization(owner=owner, name=name, display_name=display_name, description=description)
    if max_members is not None:
        org.max_members = max_members
    if settings is not None:
        org.settings = settings
    _save(org)
    membership = Membership(user=owner, org=org, role=Role.objects.system(OWNER), assigned_by=actor)
    membership.save()
    _audit("org.created", actor=actor, org=org, resource=org, details={"new": _snapshot(org, ORG_FIELDS)})
    return org


@transaction.atomic
def org_update(
    *,
    actor: User,
    org: Organization,
    acting_for: User | None = None,
    as_staff: bool = False,
    name: str = _UNSET,
    display_name: str = _UNSET,
    description: str = _UNSET,
    settings: dict = _UNSET,
    max_members: int = _UNSET,
    is_active: bool = _UNSET,
) -> Organization:
    org = _lock_org(org)
    _authorize(actor, org, "org", "write", acting_for=acting_for, as_staff=as_staff)
    if is_active is not _UNSET and is_active != org.is_active:
        # Switching an org off hides it from everyone, so it takes more than "write".
        _authorize(actor, org, "org", "deactivate", acting_for=acting_for, as_staff=as_staff)
    before = _snapshot(org, ORG_FIELDS)
    for field, value in {
        "name": name,
        "display_name": display_name,
        "description": description,
        "settings": settings,
        "max_members": max_members,
        "is_active": is_active,
    }.items():
        if value is not _UNSET:
            setattr(org, field, value)
    if settings is not _UNSET and not isinstance(settings, dict):
        raise ValidationFailed(fields={"settings": ["Settings must be an object."]})
    if max_members is not _UNSET and isinstance(org.max_members, int):
        count = org.memberships.filter(active_membership_q()).count()
        if org.max_members < count:
            raise ValidationFailed(fields={"max_members": [f"The org already has {count} members."]})
    _save(org)
    changes = _changes(before, _snapshot(org, ORG_FIELDS))
    if changes["new"]:
        _audit("org.updated", actor=actor, acting_for=acting_for, org=org, resource=org, details=changes)
        bump_version(org.pk)
    return org


@transaction.atomic
def org_transfer_ownership(*, actor: User, org: Organization, new_owner: User, as_staff: bool = False) -> Organization:
    """Hand the org to another active member. The new owner gets the owner
    role; the old owner stays on as admin. Only the owner (in person, not
    through a proxy) or staff in the admin can do this."""
    org = _lock_org(org)
    if not (org.owner_id == actor.pk or (as_staff and actor.is_staff and actor.is_active)):
        _authorize(actor, org, "org", "read")  # non-members get 404, not a hint
        raise PermissionDenied("Only the owner can transfer ownership.")
    if new_owner.pk == org.owner_id:
        raise ValidationFailed(fields={"new_owner": ["That user already owns this organization."]})
    target = _require_member(new_owner, org, "new_owner")
    old_owner_id = org.owner_id
    owner_role, admin_role = Role.objects.system(OWNER), Role.objects.system(ADMIN)
    Membership.objects.filter(org=org, user_id=old_owner_id).update(role=admin_role)
    target.role, target.expires_at, target.is_active = owner_role, None, True
    target.save(update_fields=["role", "expires_at", "is_active"])
    org.owner = new_owner
    org.save(update_fields=["owner", "updated_at"])
    _audit(
        "org.owner.transferred",
        actor=actor,
        org=org,
        resource=org,
        details={"old": {"owner": str(old_owner_id)}, "new": {"owner": str(new_owner.pk)}},
    )
    bump_version(org.pk)
    return org


# --------------------------------------------------------------------------- departments

DEPARTMENT_FIELDS = ["name", "description", "parent", "manager"]


def _check_parent(department: Department, parent: Department | None) -> None:
    """Refuse a parent in another org, or one that would make a cycle."""
    if parent is None:
        return
    _same_org(parent, department.org, "parent_id")
    node = parent
    seen = set()
    while node is not None:
        if node.pk == department.pk:
            raise ValidationFailed(fields={"parent_id": ["A department cannot move under itself or its descendants."]})
        if node.pk in seen:  # defensive: never loop on bad data
            break
        seen.add(node.pk)
        node = node.parent


@transaction.atomic
def department_create(
    *,
    actor: User,
    org: Organization,
    name: str,
    parent: Department | None = None,
    manager: User | None = None,
    description: str = "",
    acting_for: User | None = None,
    as_staff: bool = False,
) -> Department:
    _authorize(actor, org, "departments", "write", acting_for=acting_for, as_staff=as_staff)
    _lock_org(org)
    department = Department(org=org, name=name, description=description, parent=parent, manager=manager)
    _check_parent(department, parent)
    if manager is not None:
        _require_member(manager, org, "manager_id")
    _save(department)
    _audit(
        "org.department.created",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=department,
        details={"new": _snapshot(department, DEPARTMENT_FIELDS)},
    )
    return department


@transaction.atomic
def department_update(
    *,
    actor: User,
    department: Department,
    acting_for: User | None = None,
    as_staff: bool = False,
    name: str = _UNSET,
    description: str = _UNSET,
    parent: Department | None = _UNSET,
    manager: User | None = _UNSET,
) -> Department:
    org = department.org
    _authorize(actor, org, "departments", "write", acting_for=acting_for, as_staff=as_staff)
    _lock_org(org)  # two concurrent moves could otherwise build a cycle together
    department = Department.objects.get(pk=department.pk)
    before = _snapshot(department, DEPARTMENT_FIELDS)
    if name is not _UNSET:
        department.name = name
    if description is not _UNSET:
        department.description = description
    if parent is not _UNSET:
        _check_parent(department, parent)
        department.parent = parent
    if manager is not _UNSET:
        if manager is not None:
            _require_member(manager, org, "manager_id")
        department.manager = manager
    _save(department)
    changes = _changes(before, _snapshot(department, DEPARTMENT_FIELDS))
    if changes["new"]:
        action = "org.department.moved" if "parent" in changes["new"] else "org.department.updated"
        _audit(action, actor=actor, acting_for=acting_for, org=org, resource=department, details=changes)
    return department


@transaction.atomic
def department_delete(
    *, actor: User, department: Department, acting_for: User | None = None, as_staff: bool = False
) -> None:
    org = department.org
    _authorize(actor, org, "departments", "delete", acting_for=acting_for, as_staff=as_staff)
    _lock_org(org)
    if department.children.exists():
        raise Conflict("This department has sub-departments; move or delete them first.")
    old = _snapshot(department, DEPARTMENT_FIELDS)
    _audit(
        "org.department.deleted",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=department,
        details={"old": old},
    )
    department.delete()  # members keep their membership; their department becomes empty


# --------------------------------------------------------------------------- positions

POSITION_FIELDS = ["title", "description", "level"]


@transaction.atomic
def position_create(
    *,
    actor: User,
    org: Organization,
    title: str,
    level: int = 1,
    description: str = "",
    acting_for: User | None = None,
    as_staff: bool = False,
) -> Position:
    _authorize(actor, org, "positions", "write", acting_for=acting_for, as_staff=as_staff)
    position = Position(org=org, title=title, level=level, description=description)
    _save(position)
    _audit(
        "org.position.created",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=position,
        details={"new": _snapshot(position, POSITION_FIELDS)},
    )
    return position


@transaction.atomic
def position_update(
    *,
    actor: User,
    position: Position,
    acting_for: User | None = None,
    as_staff: bool = False,
    title: str = _UNSET,
    level: int = _UNSET,
    description: str = _UNSET,
) -> Position:
    org = position.org
    _authorize(actor, org, "positions", "write", acting_for=acting_for, as_staff=as_staff)
    position = Position.objects.select_for_update().get(pk=position.pk)
    before = _snapshot(position, POSITION_FIELDS)
    for field, value in {"title": title, "level": level, "description": description}.items():
        if value is not _UNSET:
            setattr(position, field, value)
    _save(position)
    changes = _changes(before, _snapshot(position, POSITION_FIELDS))
    if changes["new"]:
        _audit("org.position.updated", actor=actor, acting_for=acting_for, org=org, resource=position, details=changes)
    return position


@transaction.atomic
def position_delete(*, actor: User, position: Position, acting_for: User | None = None, as_staff: bool = False) -> None:
    org = position.org
    _authorize(actor, org, "positions", "delete", acting_for=acting_for, as_staff=as_staff)
    _audit(
        "org.position.deleted",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=position,
        details={"old": _snapshot(position, POSITION_FIELDS)},
    )
    position.delete()


# --------------------------------------------------------------------------- roles

ROLE_FIELDS = ["name", "description", "permissions"]


def _validate_role(role: Role) -> None:
    errors = {}
    if role.name and Role.objects.filter(org__isnull=True, name__iexact=role.name).exists():
        errors["name"] = ["That name belongs to a system role."]
    perm_errors = permissions_errors(role.permissions)
    if perm_errors:
        errors["permissions"] = perm_errors
    if errors:
        raise ValidationFailed(fields=errors)


@transaction.atomic
def role_create(
    *,
    actor: User,
    org: Organization,
    name: str,
    permissions: dict,
    description: str = "",
    acting_for: User | None = None,
    as_staff: bool = False,
) -> Role:
    _authorize(actor, org, "roles", "write", acting_for=acting_for, as_staff=as_staff)
    role = Role(org=org, name=name, permissions=permissions, description=description, is_system_role=False)
    _validate_role(role)
    _require_covered(actor, org, role.permissions, acting_for=acting_for, as_staff=as_staff, what="this role")
    _save(role)
    _audit(
        "org.role.created",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=role,
        details={"new": _snapshot(role, ROLE_FIELDS)},
    )
    return role


@transaction.atomic
def role_update(
    *,
    actor: User,
    role: Role,
    acting_for: User | None = None,
    as_staff: bool = False,
    name: str = _UNSET,
    permissions: dict = _UNSET,
    description: str = _UNSET,
) -> Role:
    if role.is_system_role:
        raise PermissionDenied("System roles cannot be changed.")
    org = role.org
    _authorize(actor, org, "roles", "write", acting_for=acting_for, as_staff=as_staff)
    role = Role.objects.select_for_update().get(pk=role.pk)
    _require_covered(actor, org, role.permissions, acting_for=acting_for, as_staff=as_staff, what="this role")
    before = _snapshot(role, ROLE_FIELDS)
    for field, value in {"name": name, "permissions": permissions, "description": description}.items():
        if value is not _UNSET:
            setattr(role, field, value)
    _validate_role(role)
    _require_covered(actor, org, role.permissions, acting_for=acting_for, as_staff=as_staff, what="this role")
    _save(role)
    changes = _changes(before, _snapshot(role, ROLE_FIELDS))
    if changes["new"]:
        _audit("org.role.updated", actor=actor, acting_for=acting_for, org=org, resource=role, details=changes)
        bump_version(org.pk)
    return role


@transaction.atomic
def role_delete(*, actor: User, role: Role, acting_for: User | None = None, as_staff: bool = False) -> None:
    if role.is_system_role:
        raise PermissionDenied("System roles cannot be deleted.")
    org = role.org
    _authorize(actor, org, "roles", "delete", acting_for=acting_for, as_staff=as_staff)
    _require_covered(actor, org, role.permissions, acting_for=acting_for, as_staff=as_staff, what="this role")
    if role.memberships.exists():
        raise Conflict("Members still hold this role; give them another role first.")
    _audit(
        "org.role.deleted",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=role,
        details={"old": _snapshot(role, ROLE_FIELDS)},
    )
    role.delete()
    bump_version(org.pk)


# --------------------------------------------------------------------------- memberships

MEMBERSHIP_FIELDS = ["user", "role", "department", "position", "expires_at", "is_active"]


def _check_membership_refs(org, role, department, position) -> None:
    if role is not None and not (role.org_id is None or role.org_id == org.pk):
        raise ValidationFailed(fields={"role_id": ["Not a role of this organization."]})
    _same_org(department, org, "department_id")
    _same_org(position, org, "position_id")


def _check_future(expires_at, field="expires_at") -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(fields={field: ["Must be in the future."]})


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
        raise Conflict("The owner must stay an owner; transfer ownership first.")


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
    _authorize(actor, org, "members", "write", acting_for=acting_for, as_staff=as_staff)
    # The org row lock makes the count and insert atomic against concurrent adds.
    org = _lock_org(org)
    _check_membership_refs(org, role, department, position)
    _check_future(expires_at)
    if not user.is_active:
        raise ValidationFailed(fields={"user_id": ["This account is not active."]})
    _require_covered(actor, org, role.permissions, acting_for=acting_for, as_staff=as_staff, what="this role")
    existing = Membership.objects.filter(org=org, user=user).first()
    if existing is not None and Membership.objects.filter(pk=existing.pk).filter(active_membership_q()).exists():
        raise Conflict("This user is already a member.")
    current = org.memberships.filter(active_membership_q()).exclude(user=user).count()
    if current >= org.max_members:
        raise Conflict(f"This organization is full ({org.max_members} members).", code="max_members_reached")
    # A lapsed or deactivated membership is renewed in place (unique (user, org)).
    membership = existing or Membership(org=org, user=user)
    before = _snapshot(membership, MEMBERSHIP_FIELDS) if existing else {}
    membership.role, membership.department, membership.position = role, department, position
    membership.expires_at, membership.is_active, membership.assigned_by = expires_at, True, actor
    if existing:
        membership.assigned_at = timezone.now()
    _save(membership)
    details = {"new": _snapshot(membership, MEMBERSHIP_FIELDS)}
    if before:
        details["old"] = before
    _audit("org.member.added", actor=actor, acting_for=acting_for, org=org, resource=membership, details=details)
    bump_version(org.pk)
    return membership


@transaction.atomic
def member_update(
    *,
    actor: User,
    membership: Membership,
    acting_for: User | None = None,
    as_staff: bool = False,
    role: Role = _UNSET,
    department: Department | None = _UNSET,
    position: Position | None = _UNSET,
    expires_at: datetime | None = _UNSET,
    is_active: bool = _UNSET,
) -> Membership:
    org = membership.org
    _authorize(actor, org, "members", "write", acting_for=acting_for, as_staff=as_staff)
    org = _lock_org(org)
    membership = Membership.objects.select_related("role").get(pk=membership.pk)
    _require_covered(
        actor, org, membership.role.permissions, acting_for=acting_for, as_staff=as_staff, what="this member"
    )
    before = _snapshot(membership, MEMBERSHIP_FIELDS)
    _check_membership_refs(
        org,
        None if role is _UNSET else role,
        None if department is _UNSET else department,
        None if position is _UNSET else position,
    )
    if role is not _UNSET:
        _require_covered(actor, org, role.permissions, acting_for=acting_for, as_staff=as_staff, what="this role")
        membership.role = role
    if department is not _UNSET:
        membership.department = department
    if position is not _UNSET:
        membership.position = position
    if expires_at is not _UNSET:
        _check_future(expires_at)
        membership.expires_at = expires_at
    if is_active is not _UNSET:
        if is_active and not membership.is_active:
            # Re-activation adds a member back: it counts against max_members.
            current = org.memberships.filter(active_membership_q()).exclude(pk=membership.pk).count()
            if current >= org.max_members:
                raise Conflict(f"This organization is full ({org.max_members} members).", code="max_members_reached")
        membership.is_active = is_active
    _guard_owner(org, membership)
    _save(membership)
    changes = _changes(before, _snapshot(membership, MEMBERSHIP_FIELDS))
    if changes["new"]:
        _audit("org.member.updated", actor=actor, acting_for=acting_for, org=org, resource=membership, details=changes)
        bump_version(org.pk)
    return membership


@transaction.atomic
def member_remove(
    *, actor: User, membership: Membership, acting_for: User | None = None, as_staff: bool = False
) -> None:
    org = membership.org
    if membership.user_id != actor.pk or acting_for is not None:  # anyone may leave by themselves
        _authorize(actor, org, "members", "delete", acting_for=acting_for, as_staff=as_staff)
    org = _lock_org(org)
    membership = Membership.objects.select_related("role").get(pk=membership.pk)
    if membership.user_id != actor.pk:
        _require_covered(
            actor, org, membership.role.permissions, acting_for=acting_for, as_staff=as_staff, what="this member"
        )
    _guard_owner(org, membership, removing=True)
    _audit(
        "org.member.removed",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=membership,
        details={"old": _snapshot(membership, MEMBERSHIP_FIELDS)},
    )
    # Proxies to or from someone who left stop for good, not just while they are away.
    for proxy in Proxy.objects.filter(org=org, is_active=True).filter(
        Q(principal_id=membership.user_id) | Q(agent_id=membership.user_id)
    ):
        proxy.is_active = False
        proxy.save(update_fields=["is_active", "updated_at"])
        _audit(
            "org.proxy.deactivated",
            actor=actor,
            acting_for=acting_for,
            org=org,
            resource=proxy,
            details={"old": {"is_active": True}, "new": {"is_active": False}, "reason": "member removed"},
        )
    Department.objects.filter(org=org, manager_id=membership.user_id).update(manager=None)
    membership.delete()
    bump_version(org.pk)


# --------------------------------------------------------------------------- proxies

PROXY_FIELDS = ["principal", "agent", "permissions", "starts_at", "expires_at", "is_active"]


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
    """Let `agent` act for `principal` in `org`. Principals may delegate for
    themselves; anyone else needs proxies.write and must hold at least what
    the principal holds (otherwise an admin could borrow the owner's rights)."""
    if principal.pk != actor.pk or acting_for is not None:
        _authorize(actor, org, "proxies", "write", acting_for=acting_for, as_staff=as_staff)
    else:
        _authorize(actor, org, "org", "read")
    org = _lock_org(org)
    errors = {}
    if principal.pk == agent.pk:
        errors["agent_id"] = ["A user cannot be their own proxy."]
    perm_errors = permissions_errors(permissions)
    if perm_errors:
        errors["permissions"] = perm_errors
    starts_at = starts_at or timezone.now()
    if expires_at is not None and expires_at <= starts_at:
        errors["expires_at"] = ["Must be after starts_at."]
    elif expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["Must be in the future."]
    if errors:
        raise ValidationFailed(fields=errors)
    principal_membership = _require_member(principal, org, "principal_id")
    _require_member(agent, org, "agent_id")
    if principal.pk != actor.pk:
        _require_covered(
            actor,
            org,
            principal_membership.role.permissions,
            acting_for=acting_for,
            as_staff=as_staff,
            what="proxies for this user",
        )
    existing = Proxy.objects.filter(org=org, principal=principal, agent=agent).first()
    now = timezone.now()
    if existing is not None and existing.is_active and (existing.expires_at is None or existing.expires_at > now):
        raise Conflict("This proxy already exists; delete it first to change it.")
    # A lapsed proxy for the same pair is replaced in place (unique (principal, agent, org)).
    proxy = existing or Proxy(org=org, principal=principal, agent=agent)
    before = _snapshot(proxy, PROXY_FIELDS) if existing else {}
    proxy.permissions, proxy.starts_at, proxy.expires_at = permissions, starts_at, expires_at
    proxy.is_active, proxy.created_by = True, actor
    _save(proxy)
    details = {"new": _snapshot(proxy, PROXY_FIELDS)}
    if before:
        details["old"] = before
    _audit("org.proxy.created", actor=actor, acting_for=acting_for, org=org, resource=proxy, details=details)
    bump_version(org.pk)
    return proxy


@transaction.atomic
def proxy_update(
    *,
    actor: User,
    proxy: Proxy,
    acting_for: User | None = None,
    as_staff: bool = False,
    permissions: dict = _UNSET,
    expires_at: datetime | None = _UNSET,
    is_active: bool = _UNSET,
) -> Proxy:
    org = proxy.org
    if proxy.principal_id != actor.pk or acting_for is not None:
        _authorize(actor, org, "proxies", "write", acting_for=acting_for, as_staff=as_staff)
    proxy = Proxy.objects.select_for_update().get(pk=proxy.pk)
    before = _snapshot(proxy, PROXY_FIELDS)
    if permissions is not _UNSET:
        perm_errors = permissions_errors(permissions)
        if perm_errors:
            raise ValidationFailed(fields={"permissions": perm_errors})
        proxy.permissions = permissions
    if expires_at is not _UNSET:
        if expires_at is not None and expires_at <= proxy.starts_at:
            raise ValidationFailed(fields={"expires_at": ["Must be after starts_at."]})
        proxy.expires_at = expires_at
    if is_active is not _UNSET:
        proxy.is_active = is_active
    _save(proxy)
    changes = _changes(before, _snapshot(proxy, PROXY_FIELDS))
    if changes["new"]:
        _audit("org.proxy.updated", actor=actor, acting_for=acting_for, org=org, resource=proxy, details=changes)
        bump_version(org.pk)
    return proxy


@transaction.atomic
def proxy_delete(*, actor: User, proxy: Proxy, acting_for: User | None = None, as_staff: bool = False) -> None:
    org = proxy.org
    # Either side may end a proxy; others need proxies.delete.
    if actor.pk not in (proxy.principal_id, proxy.agent_id) or acting_for is not None:
        _authorize(actor, org, "proxies", "delete", acting_for=acting_for, as_staff=as_staff)
    _audit(
        "org.proxy.deleted",
        actor=actor,
        acting_for=acting_for,
        org=org,
        resource=proxy,
        details={"old": _snapshot(proxy, PROXY_FIELDS)},
    )
    proxy.delete()
    bump_version(org.pk)


# --------------------------------------------------------------------------- housekeeping


@transaction.atomic
def tidy_expired(*, now: datetime | None = None) -> dict:
    """Mark lapsed memberships and proxies inactive. Housekeeping only: the
    permission check already ignores them from the moment they expire."""
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
        _audit(
            "org.member.expired",
            actor=None,
            org=membership.org,
            resource=membership,
            details={
                "old": {"is_active": True},
                "new": {"is_active": False},
                "expires_at": jsonable(membership.expires_at),
            },
        )
        counts["memberships"] += 1
        orgs.add(membership.org_id)
    proxies = Proxy.objects.select_for_update(skip_locked=True, of=("self",)).filter(**lapsed)
    for proxy in proxies.select_related("org"):
        proxy.is_active = False
        proxy.save(update_fields=["is_active", "updated_at"])
        _audit(
            "org.proxy.expired",
            actor=None,
            org=proxy.org,
            resource=proxy,
            details={"old": {"is_active": True}, "new": {"is_active": False}, "expires_at": jsonable(proxy.expires_at)},
        )
        counts["proxies"] += 1
        orgs.add(proxy.org_id)
    for org_id in orgs:
        bump_version(org_id)
    return counts
