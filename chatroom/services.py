"""Every write to chat goes through here."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.models import User
from chatroom.models import Room
from config.errors import ValidationFailed, validate_model
from orgs.models import Organization


@transaction.atomic
def room_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    is_private: bool = False,
    password: str | None = None,
    org: Organization | None = None,
) -> Room:
    if is_private and not password:
        raise ValidationFailed(fields={"password": ["A private room needs a password."]})
    if not is_private and password:
        raise ValidationFailed(fields={"password": ["Only a private room has a password."]})
    room = Room(
        owner=owner,
        name=name,
        description=description,
        is_private=is_private,
        password_hash=make_password(password) if is_private else None,
        org=org,
    )
    validate_model(room)
    room.save()
    return room
