"""Positions (titles with a level): create, update, delete."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from core.changes import UNSET, given
from orgs.models import Organization, Position
from orgs.services.base import Who
from orgs.services.structure import Structure, create_row, delete_row, update_row

POSITIONS = Structure(model=Position, resource="positions", audit_stem="org.position",
                      fields=("title", "description", "level"))


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
    return create_row(POSITIONS, Who(actor, acting_for, as_staff), org,
                      {"title": title, "level": level, "description": description})


@transaction.atomic
def position_update(
    *,
    actor: User,
    position: Position,
    acting_for: User | None = None,
    as_staff: bool = False,
    title: str = UNSET,
    level: int = UNSET,
    description: str = UNSET,
) -> Position:
    return update_row(POSITIONS, Who(actor, acting_for, as_staff), position,
                      given(title=title, level=level, description=description))


@transaction.atomic
def position_delete(*, actor: User, position: Position, acting_for: User | None = None, as_staff: bool = False) -> None:
    delete_row(POSITIONS, Who(actor, acting_for, as_staff), position)
