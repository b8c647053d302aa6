"""Every write to accounts goes through here (architecture.md, "services")."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from config.errors import validate_model


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str = User.Role.USER,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        role=role,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    user.set_password(password)
    # Model validation (username pattern, case-insensitive email uniqueness)
    # runs here so every face gets the same errors.
    validate_model(user, exclude=["password"])
    user.save()
    return user
