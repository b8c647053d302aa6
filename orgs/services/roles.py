"""An org's own roles: create, update, delete. System roles are fixed, a
role's permissions are well-formed, and nobody hands out (or changes a role
holding) more than they hold themselves."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from core.changes import UNSET, given
from core.errors import Conflict, PermissionDenied, ValidationFailed
from orgs.models import Organization, Role
from orgs.permissions import permissions_errors
from orgs.services.base import Who
from orgs.services.structure import Structure, create_row, delete_row, update_row

ROLES = Structure(model=Role, resource="roles", audit_stem="org.role", fields=("name", "description", "permissions"),
                  affects_grants=True)


def _validate_role(role: Role) -> None:
    errors = {}
    if role.name and Role.objects.filter(org__isnull=True, name__iexact=role.name).exists():
        errors["name"] = [_("That name belongs to a system role.")]
    perm_errors = permissions_errors(role.permissions)
    if perm_errors:
        errors["permissions"] = perm_errors
    if errors:
        raise ValidationFailed(fields=errors)


def _fixed(role: Role, verb: str) -> None:
    if role.is_system_role:
        raise PermissionDenied(_("System roles cannot be changed.") if verb == "changed"
                               else _("System roles cannot be deleted."))


def _covered_by(who: Who):
    """The check that the role holds nothing the actor does not hold."""

    def check(org: Organization, role: Role, changes: dict | None = None) -> None:
        who.require_covered(org, role.permissions, what=_("this role"))

    return check


def _valid_for(who: Who):
    """The checks of a role as it would be saved."""
    covered = _covered_by(who)

    def check(org: Organization, role: Role) -> None:
        _validate_role(role)
        covered(org, role)

    return check


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
    who = Who(actor, acting_for, as_staff)
    return create_row(ROLES, who, org,
                      {"name": name, "permissions": permissions, "description": description, "is_system_role": False},
                      check=_valid_for(who))


@transaction.atomic
def role_update(
    *,
    actor: User,
    role: Role,
    acting_for: User | None = None,
    as_staff: bool = False,
    name: str = UNSET,
    permissions: dict = UNSET,
    description: str = UNSET,
) -> Role:
    _fixed(role, "changed")
    who = Who(actor, acting_for, as_staff)
    return update_row(ROLES, who, role, given(name=name, permissions=permissions, description=description),
                      before=_covered_by(who), after=_valid_for(who))


@transaction.atomic
def role_delete(*, actor: User, role: Role, acting_for: User | None = None, as_staff: bool = False) -> None:
    _fixed(role, "deleted")
    who = Who(actor, acting_for, as_staff)
    covered = _covered_by(who)

    def unused(org: Organization, role: Role) -> None:
        covered(org, role)
        if role.memberships.exists():
            raise Conflict(_("Members still hold this role; give them another role first."))

    delete_row(ROLES, who, role, check=unused)
