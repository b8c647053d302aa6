"""Shared org fixtures: an org with one member per system role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import User
from orgs.models import Membership, Organization, Role


@dataclass
class OrgWorld:
    org: Organization
    owner: User
    admin: User
    member: User
    outsider: User


def make_membership(org, user, role_name="member", **kwargs) -> Membership:
    """Direct insert for arranging tests; the services are tested on their own."""
    role = Role.objects.system(role_name) if isinstance(role_name, str) else role_name
    return Membership.objects.create(org=org, user=user, role=role, assigned_by=org.owner, **kwargs)


@pytest.fixture
def world(make_user) -> OrgWorld:
    from orgs.services import org_create

    owner = make_user("olivia")
    org = org_create(owner=owner, name="acme", display_name="Acme 株式会社")
    admin, member, outsider = make_user("adam"), make_user("mia"), make_user("otto")
    make_membership(org, admin, "admin")
    make_membership(org, member, "member")
    return OrgWorld(org=org, owner=owner, admin=admin, member=member, outsider=outsider)
