"""The org pages: chart, directory search, management pages shown only to
those allowed, the acting-as switch, and escaping."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from orgs import services
from orgs.models import Department, Position, Proxy, Role

pytestmark = pytest.mark.django_db


def page(org, tail=""):
    return f"/orgs/{org.pk}/{tail}"


@pytest.fixture
def chart_world(world):
    eng = services.department_create(actor=world.owner, org=world.org, name="研发中心", manager=world.admin)
    services.department_create(actor=world.owner, org=world.org, name="Backend", parent=eng)
    pos = services.position_create(actor=world.owner, org=world.org, title="Engineer")
    m = world.org.memberships.get(user=world.member)
    services.member_update(actor=world.owner, membership=m, department=eng, position=pos)
    return world


def test_org_list_and_create(client, make_user):
    alice = make_user("alice")
    client.force_login(alice)
    r = client.post("/orgs/", {"name": "pageco", "display_name": "개발팀"})
    assert r.status_code == 302
    listing = client.get("/orgs/").content.decode()
    assert "개발팀" in listing and "@pageco" in listing
    r = client.post("/orgs/", {"name": "bad name"})
    assert r.status_code == 200 and "errorlist" in r.content.decode()


def test_chart_shows_tree_managers_and_members(client, chart_world):
    w = chart_world
    client.force_login(w.member)
    html = client.get(page(w.org)).content.decode()
    assert "研发中心" in html and "Manager: adam" in html and "Backend" in html
    assert "mia" in html and "Engineer" in html
    # the child is nested inside its parent's item
    assert html.index("研发中心") < html.index("Backend")
    assert "olivia" in html  # members without a department are listed too


def test_directory_search(client, chart_world):
    w = chart_world
    client.force_login(w.owner)
    for q, expected in (("mia", True), ("研发", True), ("engineer", True), ("nobody-here", False)):
        html = client.get(page(w.org, "members/"), {"q": q}).content.decode()
        assert ("<td>mia</td>" in html) is expected, q
    html = client.get(page(w.org, "members/"), {"q": "研发"}).content.decode()
    assert "<td>olivia</td>" not in html


def test_management_pages_only_for_those_allowed(client, world):
    client.force_login(world.member)
    chart = client.get(page(world.org)).content.decode()
    assert "manage/departments" not in chart and "manage/members" not in chart
    for tail in ("manage/departments/", "manage/positions/", "manage/roles/", "manage/members/"):
        html = client.get(page(world.org, tail)).content.decode()
        assert 'value="create"' not in html, tail  # read-only table, no form
    r = client.post(page(world.org, "manage/departments/"), {"op": "create", "name": "Sneaky"})
    assert r.status_code == 403 and not Department.objects.exists()

    client.force_login(world.admin)
    chart = client.get(page(world.org)).content.decode()
    assert "manage/departments" in chart and "manage/members" in chart
    r = client.post(page(world.org, "manage/departments/"), {"op": "create", "name": "Ops"})
    assert r.status_code == 302 and Department.objects.filter(name="Ops").exists()


def test_non_member_gets_404_on_every_page(client, world):
    client.force_login(world.outsider)
    for tail in ("", "members/", "settings/", "manage/departments/", "manage/positions/", "manage/roles/",
                 "manage/members/", "manage/proxies/"):
        assert client.get(page(world.org, tail)).status_code == 404, tail
    assert client.post(page(world.org, "act-as/"), {"principal": ""}).status_code == 404


def test_manage_forms_show_service_errors_and_write_nothing(client, world):
    client.force_login(world.owner)
    eng = services.department_create(actor=world.owner, org=world.org, name="Eng")
    child = services.department_create(actor=world.owner, org=world.org, name="Child", parent=eng)
    r = client.post(page(world.org, "manage/departments/"), {"op": "update", "id": eng.pk, "name": "Eng",
                                                            "parent": child.pk})
    assert r.status_code == 200 and "cannot move under itself" in r.content.decode()
    eng.refresh_from_db()
    assert eng.parent is None
    r = client.post(page(world.org, "manage/roles/"), {"op": "create", "name": "x", "permissions": "not json"})
    assert r.status_code == 200 and not Role.objects.filter(org=world.org).exists()
    r = client.post(page(world.org, "manage/positions/"), {"op": "create", "title": "Lead", "level": 3})
    assert r.status_code == 302 and Position.objects.get(title="Lead").level == 3


def test_members_page_adds_and_edits(client, world, make_user):
    newbie = make_user("newbie")
    client.force_login(world.admin)
    member_role = Role.objects.system("member")
    r = client.post(page(world.org, "manage/members/"), {"op": "create", "user": "newbie", "role": member_role.pk})
    assert r.status_code == 302
    assert world.org.memberships.get(user=newbie).role == member_role
    r = client.post(page(world.org, "manage/members/"), {"op": "update", "id": newbie.pk, "user": "newbie",
                                                        "role": Role.objects.system("admin").pk})
    assert r.status_code == 302 and world.org.memberships.get(user=newbie).role.name == "admin"
    r = client.post(page(world.org, "manage/members/"), {"op": "delete", "id": newbie.pk})
    assert r.status_code == 302 and not world.org.memberships.filter(user=newbie).exists()


def test_acting_as_switch_runs_pages_as_the_principal(client, world):
    services.proxy_create(actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
                          permissions={"departments": ["read", "write"], "org": ["read"]})
    client.force_login(world.member)
    html = client.get(page(world.org)).content.decode()
    assert 'data-testid="act-as"' in html and "adam" in html
    assert client.post(page(world.org, "manage/departments/"), {"op": "create", "name": "A"}).status_code == 403
    r = client.post(page(world.org, "act-as/"), {"principal": str(world.admin.pk)})
    assert r.status_code == 302
    html = client.get(page(world.org)).content.decode()
    assert 'data-testid="acting-banner"' in html and "manage/departments" in html
    r = client.post(page(world.org, "manage/departments/"), {"op": "create", "name": "Legal"})
    assert r.status_code == 302
    entry = AuditLog.objects.get(action="org.department.created")
    assert (entry.actor_id, entry.acting_for_id) == (world.member.pk, world.admin.pk)
    # someone they hold no proxy for cannot be chosen
    assert client.post(page(world.org, "act-as/"), {"principal": str(world.owner.pk)}).status_code == 403
    # once the proxy is gone the switch falls back to acting as oneself
    services.proxy_delete(actor=world.admin, proxy=Proxy.objects.get())
    html = client.get(page(world.org)).content.decode()
    assert 'data-testid="acting-banner"' not in html and "proxy has ended" in html


def test_output_is_escaped(client, world):
    services.org_update(actor=world.owner, org=world.org, description="<script>alert(1)</script>")
    services.department_create(actor=world.owner, org=world.org, name="<b>bold</b>")
    client.force_login(world.member)
    html = client.get(page(world.org)).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_nav_links_to_orgs(client, world):
    client.force_login(world.member)
    assert b'data-testid="orgs-link"' in client.get("/").content


def test_settings_page_updates_and_transfers(client, world):
    client.force_login(world.admin)
    html = client.get(page(world.org, "settings/")).content.decode()
    assert 'value="update"' in html and 'value="transfer"' not in html  # only the owner transfers
    r = client.post(page(world.org, "settings/"), {"op": "update", "display_name": "Acme 주식회사",
                                                   "description": "", "max_members": 2})
    assert r.status_code == 200 and "already has 3 members" in r.content.decode()
    client.force_login(world.member)
    assert client.get(page(world.org, "settings/")).status_code == 403
    client.force_login(world.owner)
    r = client.post(page(world.org, "settings/"), {"op": "transfer", "new_owner": str(world.admin.pk)})
    assert r.status_code == 302
    world.org.refresh_from_db()
    assert world.org.owner == world.admin
