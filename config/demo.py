"""Demo data for a first run: an admin, an organization and a public room."""

from __future__ import annotations

import secrets

from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from chatroom.services import room_create
from orgs.services import org_create

DEMO_ADMIN = "admin"


def seed_demo() -> str | None:
    """Create the demo data once. Returns the admin's generated password the
    one time it is created, and None on every later run."""
    if User.objects.filter(username=DEMO_ADMIN).exists():
        return None
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        admin = user_create(
            username=DEMO_ADMIN,
            email="admin@example.com",
            password=password,
            role=User.Role.ADMIN,
            is_staff=True,
            is_superuser=True,
        )
        org = org_create(owner=admin, name="demo", display_name="Demo Organization")
        room_create(owner=admin, name="general", description="Everyone's first room.", org=org)
    return password
