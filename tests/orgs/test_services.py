"""Org services: the department tree, max_members, owners, audit entries,
and bad input writing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditLog
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from orgs import services
from orgs.models import Department, Membership, Organization, Position, Proxy, Role
from orgs.permissions import has_permission

pytestmark = pytest.mark.django_db


def last_audit(action):
    return AuditLog.objects.filter(action=action).order_by("-created_at").first()


# --------------------------------------------------------------------------- org create


def test_creator_becomes_owner_member_and_creation_is_audited(make_user):
    alice = make_user("alice")
    org = services.org_create(owner=alice, name="beta-team", display_name="베타 팀")
    membership = Membership.objects.get(org=org, user=alice)
    assert membership.role == Role.objects.system("owner") and membership.is_active
    entry = last_audit("org.created")
    assert entry.actor_id == alice.pk and entry.org_id == org.pk
    assert entry.details["display_name"] == {"old": None, "new": "베타 팀"}


@pytest.mark.parametrize("bad", ["ab", "has space", "x" * 51, "中文名"])
def test_bad_org_handle_is_refused_and_nothing_is_written(make_user, bad):
    alice = make_user("alice")
    with pytest.raises(ValidationFailed) as exc:
        services.org_create(owner=alice, name=bad)
    assert "name" in exc.value.fields
    assert not Organization.objects.exists() and not Membership.objects.exists()
    assert not AuditLog.objects.filter(action="org.created").exists()


# --------------------------------------------------------------------------- the tree


def test_tree_builds_and_refuses_cycles(world):
    o = world.owner
    eng = services.department_create(actor=o, org=world.org, name="Engineering")
    backend = services.department_create(actor=o, org=world.org, name="Backend", parent=eng)
    db = services.department_create(actor=o, org=world.org, name="Databases", parent=backend)
    assert db.parent.parent == eng

    for new_parent in (db, backend, eng):  # own descendant, own child, itself
        with pytest.raises(ValidationFailed) as exc:
            services.department_update(actor=o, department=eng, parent=new_parent)
        assert "parent_id" in exc.value.fields
    eng.refresh_from_db()
    assert eng.parent is None

    # moving a subtree elsewhere is fine, and audited as a move with old and new parent
    ops = services.department_create(actor=o, org=world.org, name="Operations")
    services.department_update(actor=o, department=backend, parent=ops)
    assert Department.objects.get(pk=db.pk).parent.parent_id == ops.pk
    entry = last_audit("org.department.moved")
    assert entry.details == {"parent": {"old": str(eng.pk), "new": str(ops.pk)}}


def test_department_names_are_unique_per_parent_including_roots(world):
    o = world.owner
    eng = services.department_create(actor=o, org=world.org, name="Engineering")
    services.department_create(actor=o, org=world.org, name="Tools", parent=eng)
    sales = services.department_create(actor=o, org=world.org, name="Sales")
    services.department_create(actor=o, org=world.org, name="Tools", parent=sales)  # another parent: fine
    with pytest.raises(ValidationFailed):
        services.department_create(actor=o, org=world.org, name="Tools", parent=eng)
    with pytest.raises(ValidationFailed):
        services.department_create(actor=o, org=world.org, name="Engineering")  # a second root of that name
    # and the database agrees for roots, where NULL parents would otherwise be distinct
    with pytest.raises(IntegrityError), transaction.atomic():
        Department.objects.create(org=world.org, name="Engineering")


def test_department_parent_and_manager_must_belong_to_the_org(world, make_user):
    other = services.org_create(owner=world.outsider, name="other-org")
    foreign = services.department_create(actor=world.outsider, org=other, name="Elsewhere")
    with pytest.raises(ValidationFailed) as exc:
        services.department_create(actor=world.owner, org=world.org, name="X", parent=foreign)
    assert "parent_id" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.department_create(actor=world.owner, org=world.org, name="X", manager=world.outsider)
    assert "manager_id" in exc.value.fields
    dept = services.department_create(actor=world.owner, org=world.org, name="X", manager=world.member)
    assert dept.manager == world.member


def test_department_with_children_cannot_be_deleted(world):
    eng = services.department_create(actor=world.owner, org=world.org, name="Engineering")
    child = services.department_create(actor=world.owner, org=world.org, name="Backend", parent=eng)
    with pytest.raises(Conflict):
        services.department_delete(actor=world.owner, department=eng)
    services.department_delete(actor=world.owner, department=child)
    services.department_delete(actor=world.owner, department=eng)
    assert not Department.objects.exists()
    assert last_audit("org.department.deleted").details["name"] == {"old": "Engineering", "new": None}


def test_members_cannot_write_and_outsiders_do_not_see_the_org(world):
    with pytest.raises(PermissionDenied):
        services.department_create(actor=world.member, org=world.org, name="Nope")
    with pytest.raises(NotFound):
        services.department_create(actor=world.outsider, org=world.org, name="Nope")
    assert not Department.objects.exists()


# --------------------------------------------------------------------------- positions and roles


def test_position_titles_are_unique_per_org(world):
    services.position_create(actor=world.admin, org=world.org, title="Engineer", level=2)
    with pytest.raises(ValidationFailed):
        services.position_create(actor=world.admin, org=world.org, title="Engineer")
    with pytest.raises(ValidationFailed):
        services.position_create(actor=world.admin, org=world.org, title="Intern", level=0)
    assert Position.objects.count() == 1


def test_roles_cannot_exceed_the_actor_or_touch_system_roles(world):
    with pytest.raises(PermissionDenied):  # an admin cannot mint an owner-like role
        services.role_create(actor=world.admin, org=world.org, name="super", permissions={"*": ["*"]})
    with pytest.raises(ValidationFailed) as exc:
        services.role_create(actor=world.owner, org=world.org, name="admin", permissions={"docs": ["read"]})
    assert "name" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.role_create(actor=world.owner, org=world.org, name="bad", permissions={"docs": "read"})
    assert "permissions" in exc.value.fields
    with pytest.raises(PermissionDenied):
        services.role_update(actor=world.owner, role=Role.objects.system("member"), permissions={"*": ["*"]})
    assert Role.objects.filter(org=world.org).count() == 0

    role = services.role_create(actor=world.admin, org=world.org, name="reader", permissions={"docs": ["read"]})
    services.role_update(actor=world.admin, role=role, permissions={"docs": ["read", "write"]})
    entry = last_audit("org.role.updated")
    assert entry.details == {"permissions": {"old": {"docs": ["read"]}, "new": {"docs": ["read", "write"]}}}


def test_a_role_in_use_cannot_be_deleted(world, make_user):
    role = services.role_create(actor=world.owner, org=world.org, name="reader", permissions={"docs": ["read"]})
    services.member_add(actor=world.owner, org=world.org, user=make_user("rita"), role=role)
    with pytest.raises(Conflict):
        services.role_delete(actor=world.owner, role=role)


# --------------------------------------------------------------------------- members


def test_member_add_update_remove_are_audited_with_old_and_new(world, make_user):
    newbie = make_user("newbie")
    dept = services.department_create(actor=world.admin, org=world.org, name="Support")
    m = services.member_add(
        actor=world.admin, org=world.org, user=newbie, role=Role.objects.system("member"), department=dept
    )
    added = last_audit("org.member.added")
    assert added.actor_id == world.admin.pk and added.details["department"] == {"old": None, "new": str(dept.pk)}

    services.member_update(actor=world.admin, membership=m, role=Role.objects.system("admin"))
    updated = last_audit("org.member.updated")
    assert updated.details == {
        "role": {"old": str(Role.objects.system("member").pk), "new": str(Role.objects.system("admin").pk)}
    }

    services.member_remove(actor=world.admin, membership=m)
    assert last_audit("org.member.removed").details["user"] == {"old": str(newbie.pk), "new": None}
    assert not Membership.objects.filter(user=newbie).exists()


def test_membership_input_must_belong_to_the_org_and_expire_in_future(world, make_user):
    other = services.org_create(owner=world.outsider, name="other-org")
    foreign_role = services.role_create(actor=world.outsider, org=other, name="x", permissions={"a": ["b"]})
    u = make_user("ursula")
    with pytest.raises(ValidationFailed) as exc:
        services.member_add(actor=world.owner, org=world.org, user=u, role=foreign_role)
    assert "role_id" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.member_add(
            actor=world.owner,
            org=world.org,
            user=u,
            role=Role.objects.system("member"),
            expires_at=timezone.now() - timedelta(minutes=1),
        )
    assert "expires_at" in exc.value.fields
    assert not Membership.objects.filter(user=u).exists()


def test_admin_cannot_grant_owner_or_manage_owners(world, make_user):
    with pytest.raises(PermissionDenied):
        services.member_add(actor=world.admin, org=world.org, user=make_user("xavier"), role=Role.objects.system("owner"))
    owner_m = Membership.objects.get(user=world.owner)
    with pytest.raises(PermissionDenied):
        services.member_remove(actor=world.admin, membership=owner_m)
    assert Membership.objects.filter(user=world.owner, is_active=True).exists()


def test_max_members_is_enforced_and_lapsed_rows_do_not_count(world, make_user):
    services.org_update(actor=world.owner, org=world.org, max_members=4)
    member = Role.objects.system("member")
    fourth = services.member_add(actor=world.owner, org=world.org, user=make_user("fourth"), role=member)
    with pytest.raises(Conflict) as exc:
        services.member_add(actor=world.owner, org=world.org, user=make_user("fifth"), role=member)
    assert exc.value.code == "max_members_reached"
    assert world.org.memberships.count() == 4
    # lowering the limit below the current count is refused
    with pytest.raises(ValidationFailed):
        services.org_update(actor=world.owner, org=world.org, max_members=3)
    # a lapsed membership frees its seat, and can be renewed in place later
    Membership.objects.filter(pk=fourth.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.member_add(actor=world.owner, org=world.org, user=make_user("sixth"), role=member)
    with pytest.raises(Conflict):
        services.member_add(actor=world.owner, org=world.org, user=fourth.user, role=member)


# --------------------------------------------------------------------------- owners


def test_owner_transfer_moves_the_owner_role_and_keeps_one_owner(world):
    services.org_transfer_ownership(actor=world.owner, org=world.org, new_owner=world.admin)
    world.org.refresh_from_db()
    assert world.org.owner == world.admin
    roles = {m.user_id: m.role.name for m in Membership.objects.filter(org=world.org)}
    assert roles[world.admin.pk] == "owner" and roles[world.owner.pk] == "admin"
    assert has_permission(world.admin, world.org, "org", "deactivate")
    assert not has_permission(world.owner, world.org, "org", "deactivate")
    entry = last_audit("org.owner.transferred")
    assert entry.details == {"owner": {"old": str(world.owner.pk), "new": str(world.admin.pk)}}


def test_only_the_owner_transfers_and_only_to_a_member(world):
    with pytest.raises(PermissionDenied):
        services.org_transfer_ownership(actor=world.admin, org=world.org, new_owner=world.admin)
    with pytest.raises(ValidationFailed):
        services.org_transfer_ownership(actor=world.owner, org=world.org, new_owner=world.outsider)
    with pytest.raises(NotFound):
        services.org_transfer_ownership(actor=world.outsider, org=world.org, new_owner=world.outsider)
    world.org.refresh_from_db()
    assert world.org.owner == world.owner


def test_an_org_never_loses_its_owner(world):
    owner_m = Membership.objects.get(user=world.owner)
    for change in (
        {"role": Role.objects.system("admin")},
        {"is_active": False},
        {"expires_at": timezone.now() + timedelta(days=1)},
    ):
        with pytest.raises(Conflict):
            services.member_update(actor=world.owner, membership=owner_m, **change)
    with pytest.raises(Conflict):
        services.member_remove(actor=world.owner, membership=owner_m)  # not even leaving by themselves
    owner_m.refresh_from_db()
    assert owner_m.is_active and owner_m.role.name == "owner" and owner_m.expires_at is None


def test_member_may_leave_by_themselves(world):
    services.member_remove(actor=world.member, membership=Membership.objects.get(user=world.member))
    assert not Membership.objects.filter(user=world.member).exists()


# --------------------------------------------------------------------------- proxies and acting-as


def test_acting_as_is_audited_with_both_users(world):
    services.proxy_create(
        actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
        permissions={"departments": ["write"]},
    )
    proxy_entry = last_audit("org.proxy.created")
    assert proxy_entry.actor_id == world.admin.pk and proxy_entry.details["agent"]["new"] == str(world.member.pk)

    dept = services.department_create(actor=world.member, acting_for=world.admin, org=world.org, name="Legal")
    entry = last_audit("org.department.created")
    assert entry.actor_id == world.member.pk and entry.acting_for_id == world.admin.pk
    assert entry.actor_username == "mia" and entry.acting_for_username == "adam"
    assert entry.details["name"]["new"] == "Legal" and dept.org == world.org

    # outside the proxy's grants the agent is refused, even though the principal could
    with pytest.raises(PermissionDenied):
        services.position_create(actor=world.member, acting_for=world.admin, org=world.org, title="Clerk")


def test_proxy_rules(world, make_user):
    # someone else's proxy needs proxies.write and at least the principal's rights
    with pytest.raises(PermissionDenied):
        services.proxy_create(
            actor=world.admin, org=world.org, principal=world.owner, agent=world.admin, permissions={"*": ["*"]}
        )
    with pytest.raises(PermissionDenied):
        services.proxy_create(
            actor=world.member, org=world.org, principal=world.admin, agent=world.member, permissions={"*": ["read"]}
        )
    # both sides must be members, and the window must make sense
    with pytest.raises(ValidationFailed) as exc:
        services.proxy_create(
            actor=world.admin, org=world.org, principal=world.admin, agent=world.outsider, permissions={"*": ["read"]}
        )
    assert "agent_id" in exc.value.fields
    now = timezone.now()
    with pytest.raises(ValidationFailed) as exc:
        services.proxy_create(
            actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
            permissions={"*": ["read"]}, starts_at=now + timedelta(hours=2), expires_at=now + timedelta(hours=1),
        )
    assert "expires_at" in exc.value.fields
    assert not Proxy.objects.exists()
    # the owner may set up a proxy between others
    services.proxy_create(
        actor=world.owner, org=world.org, principal=world.admin, agent=world.member, permissions={"*": ["read"]}
    )
    with pytest.raises(Conflict):  # one live proxy per pair
        services.proxy_create(
            actor=world.owner, org=world.org, principal=world.admin, agent=world.member, permissions={"*": ["read"]}
        )


def test_tidy_expired_deactivates_lapsed_proxies_and_audits(world):
    proxy = services.proxy_create(
        actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
        permissions={"*": ["read"]}, expires_at=timezone.now() + timedelta(hours=1),
    )
    Proxy.objects.filter(pk=proxy.pk).update(
        starts_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    assert services.tidy_expired()["proxies"] == 1
    assert not Proxy.objects.get(pk=proxy.pk).is_active
    assert last_audit("org.proxy.expired").resource_id == str(proxy.pk)
    assert services.tidy_expired() == {"memberships": 0, "proxies": 0}  # idempotent
