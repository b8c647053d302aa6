"""The one create, update and delete of an org-structure row (departments,
positions, roles, and the update of memberships): authorize, lock, check,
save, audit, and drop cached grants when the change can affect them. Each
use-case module describes its table with a ``Structure`` and passes the
checks that are its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django.db import models

from core.changes import apply_changes, created, removed, snapshot
from orgs.models import Organization
from orgs.permissions import bump_version
from orgs.services.base import Who, lock_org, save

Check = Callable[[Organization, models.Model], None]
ChangesCheck = Callable[[Organization, models.Model, dict], None]


@dataclass(frozen=True)
class Structure:
    model: type[models.Model]
    resource: str  # the permission resource: departments, positions, ...
    audit_stem: str  # "org.department": .created, .updated, .deleted
    fields: tuple[str, ...]  # what the audit entries show
    locks_org: bool = False  # changes serialize on the org row (tree cycles, max_members)
    affects_grants: bool = False  # an update or delete can change cached grants
    related: tuple[str, ...] = ()  # loaded with the row an update locks


def create_row(kind: Structure, who: Who, org: Organization, values: dict, *, check: Check | None = None):
    who.authorize(org, kind.resource, "write")
    if kind.locks_org:
        lock_org(org)
    obj = kind.model(org=org, **values)
    if check is not None:
        check(org, obj)
    save(obj)
    who.audit(f"{kind.audit_stem}.created", org=org, resource=obj, details=created(snapshot(obj, kind.fields)))
    return obj


def update_row(
    kind: Structure,
    who: Who,
    obj,
    changes: dict,
    *,
    before: ChangesCheck | None = None,
    after: Check | None = None,
    action: Callable[[dict], str] | None = None,
):
    """Apply ``changes`` (the given fields; core.changes) to a fresh copy of
    ``obj``: ``before`` checks them against the row as it is, ``after``
    the row as it would be saved. One audit entry when something changed,
    named ``action(changed)`` (default: <stem>.updated)."""
    org = obj.org
    who.authorize(org, kind.resource, "write")
    if kind.locks_org:
        org = lock_org(org)  # the org row lock covers the row too
        rows = kind.model.objects
    else:
        rows = kind.model.objects.select_for_update()
    obj = rows.select_related(*kind.related).get(pk=obj.pk)
    if before is not None:
        before(org, obj, changes)
    changed = apply_changes(obj, changes)
    if after is not None:
        after(org, obj)
    save(obj)
    if changed:
        name = action(changed) if action is not None else f"{kind.audit_stem}.updated"
        who.audit(name, org=org, resource=obj, details=changed)
        if kind.affects_grants:
            bump_version(org.pk)
    return obj


def delete_row(kind: Structure, who: Who, obj, *, check: Check | None = None) -> None:
    org = obj.org
    who.authorize(org, kind.resource, "delete")
    if kind.locks_org:
        lock_org(org)
    if check is not None:
        check(org, obj)
    who.audit(f"{kind.audit_stem}.deleted", org=org, resource=obj, details=removed(snapshot(obj, kind.fields)))
    obj.delete()
    if kind.affects_grants:
        bump_version(org.pk)
