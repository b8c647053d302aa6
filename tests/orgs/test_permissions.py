"""has_permission: the system-role matrix, wildcards, expiry at check time,
proxies (intersection, window, no self-proxy) and cache invalidation."""

from __future__ import annotations

import importlib
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs import services
from orgs.models import Membership, Proxy, Role
from orgs.permissions import (
    allows,
    bump_version,
    check_permission,
    covers,
    has_permission,
    permissions_errors,
)
from tests.orgs.conftest import make_membership

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- the permission dicts


@pytest.mark.parametrize(
    "perms, resource, action, expected",
    [
        ({"*": ["*"]}, "anything", "at_all", True),
        ({"*": ["read"]}, "departments", "read", True),
        ({"*": ["read"]}, "departments", "write", False),
        ({"docs": ["*"]}, "docs", "delete", True),
        ({"docs": ["*"]}, "members", "read", False),
        ({"docs": ["write"], "*": ["read"]}, "docs", "read", True),  # grants add up
        ({"docs": ["write"], "*": ["read"]}, "docs", "write", True),
        ({"docs": ["write"], "*": ["read"]}, "members", "write", False),
        ({}, "docs", "read", False),
        # "*" is a wildcard only as a whole name, not a glob inside one
        ({"doc*": ["read"]}, "docs", "read", False),
    ],
)
def test_wildcards(perms, resource, action, expected):
    assert allows(perms, resource, action) is expected


def test_covers_refuses_granting_more_than_held():
    admin = {"*": ["read", "write", "delete"]}
    assert covers(admin, {"docs": ["read", "write"]})
    assert not covers(admin, {"*": ["*"]})  # an admin cannot mint an owner
    assert not covers(admin, {"docs": ["approve"]})
    assert covers({"*": ["*"]}, {"*": ["*"]})


def test_permission_json_is_validated():
    assert permissions_errors({"docs": ["read"], "*": ["*"]}) == []
    assert permissions_errors(["read"])
    assert permissions_errors({"docs": "read"})
    assert permissions_errors({"docs": []})
    assert permissions_errors({"Bad Name": ["read"]})
    assert permissions_errors({"docs": [1]})


# --------------------------------------------------------------------------- system roles


MATRIX = [
    # (role, action, allowed) on any resource; the seed's system role permissions
    ("owner", "read", True),
    ("owner", "write", True),
    ("owner", "delete", True),
    ("owner", "deactivate", True),
    ("admin", "read", True),
    ("admin", "write", True),
    ("admin", "delete", True),
    ("admin", "deactivate", False),
    ("member", "read", True),
    ("member", "write", False),
    ("member", "delete", False),
    ("outsider", "read", False),
    ("outsider", "write", False),
]


@pytest.mark.parametrize("who, action, expected", MATRIX)
@pytest.mark.parametrize("resource", ["members", "departments", "reports"])
def test_system_role_matrix(world, who, action, expected, resource):
    user = world.outsider if who == "outsider" else getattr(world, who)
    assert has_permission(user, world.org, resource, action) is expected
    # and the same answer again from the warm cache
    assert has_permission(user, world.org, resource, action) is expected


SEED_PERMISSIONS = {"owner": {"*": ["*"]}, "admin": {"*": ["read", "write", "delete"]}, "member": {"*": ["read"]}}


def test_system_roles_are_seeded_with_the_seed_permissions():
    # What the data migration seeds (a transactional test's flush may have
    # removed the rows from this database since, so the seed is read from
    # the migration itself) ...
    seeded = importlib.import_module("orgs.migrations.0003_system_roles").SYSTEM_ROLES
    assert {name: permissions for name, (_, permissions) in seeded.items()} == SEED_PERMISSIONS
    # ... and what the code re-creates them with when they are missing.
    assert {name: Role.objects.system(name).permissions for name in SEED_PERMISSIONS} == SEED_PERMISSIONS
    assert set(Role.objects.filter(org__isnull=True).values_list("name", flat=True)) == set(SEED_PERMISSIONS)


def test_org_role_with_wildcard_resource_and_specific_actions(world, make_user):
    editor = services.role_create(
        actor=world.owner, org=world.org, name="editor", permissions={"docs": ["*"], "*": ["read"]}
    )
    user = make_user("eddie")
    make_membership(world.org, user, editor)
    assert has_permission(user, world.org, "docs", "publish")
    assert has_permission(user, world.org, "members", "read")
    assert not has_permission(user, world.org, "members", "write")


def test_inactive_membership_inactive_org_and_inactive_account_grant_nothing(world):
    assert has_permission(world.member, world.org, "docs", "read")
    Membership.objects.filter(user=world.member).update(is_active=False)
    bump_version(world.org.pk)  # a raw update bypasses the services, which would bump it
    assert not has_permission(world.member, world.org, "docs", "read")

    world.admin.status = "banned"
    world.admin.save()
    world.admin.refresh_from_db()
    assert not has_permission(world.admin, world.org, "docs", "read")

    services.org_update(actor=world.owner, org=world.org, is_active=False)
    world.org.refresh_from_db()
    assert not has_permission(world.owner, world.org, "docs", "read")


# --------------------------------------------------------------------------- expiry at check time


def test_membership_expiring_mid_test_stops_granting(world, make_user):
    temp = make_user("temp")
    expires = timezone.now() + timedelta(seconds=1.5)
    make_membership(world.org, temp, "admin", expires_at=expires)
    assert has_permission(temp, world.org, "docs", "write")  # now cached, with its end time
    # the same question about a moment after expiry is already answered correctly
    assert not has_permission(temp, world.org, "docs", "write", at=expires + timedelta(seconds=1))
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.2)
    # no cron has run and nothing bumped the cache: expiry still counts
    assert Membership.objects.get(user=temp).is_active
    assert not has_permission(temp, world.org, "docs", "write")
    assert not has_permission(temp, world.org, "docs", "read")


def test_tidy_task_marks_lapsed_rows_inactive_but_keeps_the_owner(world, make_user):
    from orgs.tasks import tidy_expired_org_rows

    temp = make_user("temp")
    m = make_membership(world.org, temp, "member", expires_at=timezone.now() + timedelta(hours=1))
    Membership.objects.filter(pk=m.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    counts = tidy_expired_org_rows()
    assert counts["memberships"] == 1
    assert not Membership.objects.get(pk=m.pk).is_active
    assert Membership.objects.get(user=world.owner).is_active


# --------------------------------------------------------------------------- proxies


def _proxy(world, principal, agent, permissions, starts=None, expires=None):
    return services.proxy_create(
        actor=principal,
        org=world.org,
        principal=principal,
        agent=agent,
        permissions=permissions,
        starts_at=starts,
        expires_at=expires,
    )


def test_proxy_grants_only_the_intersection(world):
    # admin holds read/write/delete; the proxy grants docs.* and members.read
    _proxy(world, world.admin, world.member, {"docs": ["*"], "members": ["read"]})
    as_admin = {"acting_for": world.admin}
    assert has_permission(world.member, world.org, "docs", "write", **as_admin)  # both allow
    assert has_permission(world.member, world.org, "members", "read", **as_admin)
    assert not has_permission(world.member, world.org, "members", "write", **as_admin)  # proxy does not
    assert not has_permission(world.member, world.org, "docs", "approve", **as_admin)  # principal does not
    assert check_permission(world.member, world.org, "docs", "write", acting_for=world.admin) == {
        "allowed": True,
        "via": "proxy",
    }
    assert check_permission(world.member, world.org, "docs", "write") == {"allowed": False, "via": None}
    assert check_permission(world.member, world.org, "docs", "read") == {"allowed": True, "via": "role"}


def test_proxy_cannot_exceed_what_the_principal_holds(world):
    # a member delegating "*" still only lends their own read
    _proxy(world, world.member, world.admin, {"*": ["*"]})
    assert has_permission(world.admin, world.org, "docs", "read", acting_for=world.member)
    assert not has_permission(world.admin, world.org, "docs", "write", acting_for=world.member)


def test_proxy_works_only_inside_its_window(world):
    now = timezone.now()
    starts, expires = now + timedelta(hours=1), now + timedelta(hours=2)
    _proxy(world, world.admin, world.member, {"*": ["*"]}, starts=starts, expires=expires)
    kw = {"acting_for": world.admin}
    assert not has_permission(world.member, world.org, "docs", "write", **kw)  # not yet (cached as such)
    assert has_permission(world.member, world.org, "docs", "write", at=starts + timedelta(minutes=1), **kw)
    assert not has_permission(world.member, world.org, "docs", "write", at=expires, **kw)
    assert not has_permission(world.member, world.org, "docs", "write", at=starts - timedelta(seconds=1), **kw)


def test_proxy_expiring_mid_test_stops_granting(world):
    expires = timezone.now() + timedelta(seconds=1.5)
    _proxy(world, world.admin, world.member, {"*": ["*"]}, expires=expires)
    assert has_permission(world.member, world.org, "docs", "write", acting_for=world.admin)
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.2)
    assert not has_permission(world.member, world.org, "docs", "write", acting_for=world.admin)


def test_no_proxy_means_no_acting_for(world):
    assert not has_permission(world.member, world.org, "docs", "read", acting_for=world.admin)
    assert not has_permission(world.outsider, world.org, "docs", "read", acting_for=world.admin)


def test_self_proxy_is_refused_by_service_and_database(world):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        _proxy(world, world.admin, world.admin, {"*": ["read"]})
    assert "agent_id" in exc.value.fields
    with pytest.raises(IntegrityError), transaction.atomic():
        Proxy.objects.create(
            org=world.org, principal=world.admin, agent=world.admin, permissions={}, starts_at=timezone.now()
        )
    assert not Proxy.objects.exists()


def test_proxy_window_is_checked_by_the_database_too(world):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Proxy.objects.create(
            org=world.org, principal=world.admin, agent=world.member, starts_at=now, expires_at=now
        )


def test_acting_for_stops_when_the_agent_leaves_the_org(world):
    _proxy(world, world.admin, world.member, {"*": ["*"]})
    assert has_permission(world.member, world.org, "docs", "write", acting_for=world.admin)
    membership = Membership.objects.get(user=world.member, org=world.org)
    services.member_remove(actor=world.owner, membership=membership)
    assert not has_permission(world.member, world.org, "docs", "write", acting_for=world.admin)


# --------------------------------------------------------------------------- no stale grant after a change


def test_role_change_is_seen_at_once(world):
    assert has_permission(world.admin, world.org, "docs", "write")  # warm the cache
    membership = Membership.objects.get(user=world.admin, org=world.org)
    services.member_update(actor=world.owner, membership=membership, role=Role.objects.system("member"))
    assert not has_permission(world.admin, world.org, "docs", "write")


def test_role_permission_edit_is_seen_at_once(world, make_user):
    role = services.role_create(actor=world.owner, org=world.org, name="writer", permissions={"docs": ["write"]})
    user = make_user("wendy")
    services.member_add(actor=world.owner, org=world.org, user=user, role=role)
    assert has_permission(user, world.org, "docs", "write")
    services.role_update(actor=world.owner, role=role, permissions={"docs": ["read"]})
    assert not has_permission(user, world.org, "docs", "write")
    assert has_permission(user, world.org, "docs", "read")


def test_removal_and_proxy_deletion_are_seen_at_once(world):
    proxy = _proxy(world, world.admin, world.member, {"*": ["*"]})
    assert has_permission(world.member, world.org, "docs", "write", acting_for=world.admin)
    services.proxy_delete(actor=world.admin, proxy=proxy)
    assert not has_permission(world.member, world.org, "docs", "write", acting_for=world.admin)

    assert has_permission(world.member, world.org, "docs", "read")
    services.member_remove(actor=world.admin, membership=Membership.objects.get(user=world.member))
    assert not has_permission(world.member, world.org, "docs", "read")


def test_a_new_member_is_granted_at_once(world):
    assert not has_permission(world.outsider, world.org, "docs", "read")  # cached denial
    services.member_add(actor=world.admin, org=world.org, user=world.outsider, role=Role.objects.system("member"))
    assert has_permission(world.outsider, world.org, "docs", "read")


def test_cache_invalidation_survives_a_flushed_version_key(world):
    from django.core.cache import cache

    assert has_permission(world.admin, world.org, "docs", "write")
    cache.delete(f"org:{world.org.pk}:permissions:version")  # eviction
    Membership.objects.filter(user=world.admin).update(role=Role.objects.system("member"))
    # a new version starts from the clock, so the old entry is not trusted
    assert not has_permission(world.admin, world.org, "docs", "write")
