"""The admin: org with inlines, proxies with active/expired filters; writes
go through the services (so their rules and audit entries apply)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from orgs import services
from orgs.models import Department, Membership, Organization, Proxy, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def _inline_management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _org_form(world, **extra):
    data = {
        "name": world.org.name,
        "display_name": world.org.display_name,
        "description": "",
        "owner": str(world.owner.pk),
        "settings": "{}",
        "max_members": "1000",
        "is_active": "on",
        **_inline_management("departments", 0),
        **_inline_management("positions", 0),
        **_inline_management("memberships", 0),
    }
    data.update(extra)
    return data


def test_org_change_page_has_inlines(staff_client, world):
    html = staff_client.get(f"/admin/orgs/organization/{world.org.pk}/change/").content.decode()
    assert 'id="departments-group"' in html and 'id="positions-group"' in html and 'id="memberships-group"' in html


def test_admin_add_org_goes_through_the_service(staff_client, world, make_user):
    bob = make_user("bob")
    data = _org_form(world, name="admin-made", owner=str(bob.pk), display_name="Admin made")
    r = staff_client.post("/admin/orgs/organization/add/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    org = Organization.objects.get(name="admin-made")
    assert Membership.objects.get(org=org, user=bob).role.name == "owner"  # the creator rule still holds
    assert AuditLog.objects.filter(action="org.created", org_id=org.pk).exists()


def test_admin_inline_adds_department_and_member_through_services(staff_client, world, make_user):
    carol = make_user("carol")
    data = _org_form(world)
    data.update(_inline_management("departments", 1))
    data.update({"departments-0-name": "Admin Dept", "departments-0-description": ""})
    data.update(_inline_management("memberships", 1))
    data.update({"memberships-0-user": str(carol.pk), "memberships-0-role": str(Role.objects.system("member").pk),
                 "memberships-0-is_active": "on"})
    r = staff_client.post(f"/admin/orgs/organization/{world.org.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    assert Department.objects.filter(org=world.org, name="Admin Dept").exists()
    assert Membership.objects.filter(org=world.org, user=carol).exists()
    assert AuditLog.objects.filter(action="org.member.added", org_id=world.org.pk).exists()


def test_admin_refusal_shows_a_message_and_saves_nothing(staff_client, world, make_user):
    services.org_update(actor=world.owner, org=world.org, max_members=3)
    data = _org_form(world, max_members="3", description="changed")
    data.update(_inline_management("memberships", 1))
    data.update({"memberships-0-user": str(make_user("dora").pk),
                 "memberships-0-role": str(Role.objects.system("member").pk), "memberships-0-is_active": "on"})
    r = staff_client.post(f"/admin/orgs/organization/{world.org.pk}/change/", data, follow=True)
    assert "full" in r.content.decode()
    world.org.refresh_from_db()
    assert world.org.description == "" and world.org.memberships.count() == 3


def test_admin_owner_change_is_a_transfer(staff_client, world):
    r = staff_client.post(f"/admin/orgs/organization/{world.org.pk}/change/", _org_form(world, owner=str(world.admin.pk)))
    assert r.status_code == 302
    assert Membership.objects.get(org=world.org, user=world.admin).role.name == "owner"
    assert Membership.objects.get(org=world.org, user=world.owner).role.name == "admin"


def test_proxy_admin_filters_active_and_expired(staff_client, world):
    live = services.proxy_create(actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
                                 permissions={"*": ["read"]})
    old = services.proxy_create(actor=world.owner, org=world.org, principal=world.owner, agent=world.member,
                                permissions={"*": ["read"]}, expires_at=timezone.now() + timedelta(hours=1))
    Proxy.objects.filter(pk=old.pk).update(starts_at=timezone.now() - timedelta(days=2),
                                           expires_at=timezone.now() - timedelta(days=1))
    expired = staff_client.get("/admin/orgs/proxy/?expired=yes").content.decode()
    assert str(old.pk) in expired and str(live.pk) not in expired
    current = staff_client.get("/admin/orgs/proxy/?expired=no").content.decode()
    assert str(live.pk) in current and str(old.pk) not in current
    assert "is_active" in staff_client.get("/admin/orgs/proxy/").content.decode()

    r = staff_client.post(f"/admin/orgs/proxy/{live.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not Proxy.objects.filter(pk=live.pk).exists()
    assert AuditLog.objects.filter(action="org.proxy.deleted", resource_id=str(live.pk)).exists()


def test_roles_and_memberships_are_listed_read_only(staff_client, world):
    roles = staff_client.get("/admin/orgs/role/").content.decode()
    assert "owner" in roles and "admin" in roles and "member" in roles
    assert staff_client.get("/admin/orgs/role/add/").status_code == 403
    members = staff_client.get("/admin/orgs/membership/?expired=no").content.decode()
    assert "olivia" in members and "mia" in members
