"""Every write to orgs goes through here."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from config.errors import validate_model
from orgs.models import Organization


@transaction.atomic
def org_create(*, owner: User, name: str, display_name: str = "", description: str = "") -> Organization:
    org = Organization(owner=owner, name=name, display_name=display_name, description=description)
    validate_model(org)
    org.save()
    return org
