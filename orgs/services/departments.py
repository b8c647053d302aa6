"""The department tree: create, update (a change of parent is a move,
audited as such) and delete. No cycles, no parent or manager from elsewhere."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from core.changes import UNSET, given
from core.errors import Conflict, ValidationFailed
from orgs.models import Department, Organization
from orgs.services.base import Who, require_member, same_org
from orgs.services.structure import Structure, create_row, delete_row, update_row

# A slug (as SlugField), lower case: what chatroom's mention pattern reads after "@".
HANDLE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,49}")
RESERVED_HANDLES = {"all", "here", "everyone", "channel"}

DEPARTMENTS = Structure(
    model=Department, resource="departments", audit_stem="org.department",
    fields=("name", "handle", "description", "parent", "manager"),
    locks_org=True,  # two concurrent moves could otherwise build a cycle together
)


def _check_parent(department: Department, parent: Department | None) -> None:
    """Refuse a parent in another org, or one that would make a cycle."""
    if parent is None:
        return
    same_org(parent, department.org, "parent_id")
    node = parent
    seen = set()
    while node is not None:
        if node.pk == department.pk:
            raise ValidationFailed(fields={"parent_id": [_("A department cannot move under itself or its descendants.")]})
        if node.pk in seen:  # defensive: never loop on bad data
            break
        seen.add(node.pk)
        node = node.parent


def clean_handle(value) -> str | None:
    """A department's handle as stored: lower case, None for none. The
    names @all and @here mean the whole room and cannot be a handle."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(fields={"handle": [_("A handle is text.")]})
    value = value.strip().lstrip("@").lower()
    if not value:
        return None
    if not HANDLE_RE.fullmatch(value):
        raise ValidationFailed(fields={"handle": [
            _("Letters, digits, - and _ only, 2 to 50 characters, starting with a letter or digit.")]})
    if value in RESERVED_HANDLES:
        raise ValidationFailed(fields={"handle": [_("@%(handle)s is reserved for the whole room.") % {"handle": value}]})
    return value


def _check_handle(org: Organization, department: Department, handle: str | None) -> None:
    # Checked here for a clear field error; the partial unique constraint
    # (departments_handle_unique_in_org) decides under concurrency.
    if handle and Department.objects.filter(org=org, handle=handle).exclude(pk=department.pk).exists():
        raise ValidationFailed(fields={"handle": [_("Another department of this organization has @%(handle)s.") % {"handle": handle}]})


def _check_changes(org: Organization, department: Department, changes: dict) -> None:
    if "handle" in changes:
        changes["handle"] = clean_handle(changes["handle"])
        _check_handle(org, department, changes["handle"])
    if "parent" in changes:
        _check_parent(department, changes["parent"])
    if changes.get("manager") is not None:
        require_member(changes["manager"], org, "manager_id")


@transaction.atomic
def department_create(
    *,
    actor: User,
    org: Organization,
    name: str,
    parent: Department | None = None,
    manager: User | None = None,
    description: str = "",
    handle: str | None = None,
    acting_for: User | None = None,
    as_staff: bool = False,
) -> Department:
    values = {"name": name, "handle": clean_handle(handle), "description": description, "parent": parent, "manager": manager}
    return create_row(DEPARTMENTS, Who(actor, acting_for, as_staff), org, values,
                      check=lambda org, department: _check_changes(org, department, values))


@transaction.atomic
def department_update(
    *,
    actor: User,
    department: Department,
    acting_for: User | None = None,
    as_staff: bool = False,
    name: str = UNSET,
    handle: str | None = UNSET,
    description: str = UNSET,
    parent: Department | None = UNSET,
    manager: User | None = UNSET,
) -> Department:
    return update_row(
        DEPARTMENTS, Who(actor, acting_for, as_staff), department,
        given(name=name, handle=handle, description=description, parent=parent, manager=manager),
        before=_check_changes,
        action=lambda changed: "org.department.moved" if "parent" in changed else "org.department.updated",
    )


def _no_children(org: Organization, department: Department) -> None:
    if department.children.exists():
        raise Conflict(_("This department has sub-departments; move or delete them first."))


@transaction.atomic
def department_delete(
    *, actor: User, department: Department, acting_for: User | None = None, as_staff: bool = False
) -> None:
    # Members keep their membership; their department becomes empty.
    delete_row(DEPARTMENTS, Who(actor, acting_for, as_staff), department, check=_no_children)
