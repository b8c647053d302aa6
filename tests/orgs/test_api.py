"""The orgs API against api.md: shapes, codes, pagination, X-Act-As,
permissions/check, and a non-member reading nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditLog
from orgs import services
from orgs.models import Department, Membership, Organization, Position, Proxy, Role
from tests.orgs.conftest import make_membership

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(org, tail=""):
    return f"/api/v1/orgs/{org.pk}/{tail}"


@pytest.fixture
def filled(world):
    """The world plus one of everything, for endpoint sweeps."""
    dept = services.department_create(actor=world.owner, org=world.org, name="Engineering")
    pos = services.position_create(actor=world.owner, org=world.org, title="Engineer")
    role = services.role_create(actor=world.owner, org=world.org, name="reader", permissions={"docs": ["read"]})
    proxy = services.proxy_create(
        actor=world.admin, org=world.org, principal=world.admin, agent=world.member, permissions={"*": ["read"]}
    )
    return world, dept, pos, role, proxy


# --------------------------------------------------------------------------- orgs


def test_create_org_makes_creator_owner_and_lists_it(make_user):
    alice = make_user("alice")
    c = client_for(alice)
    r = c.post("/api/v1/orgs/", {"name": "newco", "display_name": "新公司"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["name"] == "newco" and body["display_name"] == "新公司" and body["owner_id"] == str(alice.pk)
    org = Organization.objects.get(pk=body["id"])
    assert Membership.objects.get(org=org, user=alice).role.name == "owner"
    listing = c.get("/api/v1/orgs/").json()
    assert [o["id"] for o in listing["results"]] == [body["id"]] and listing["next"] is None
    # someone else does not see it in their list
    assert client_for(make_user("bob")).get("/api/v1/orgs/").json()["results"] == []


def test_bad_input_is_400_validation_error_and_writes_nothing(make_user):
    alice = make_user("alice")
    c = client_for(alice)
    r = c.post("/api/v1/orgs/", {"name": "no spaces!"}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "validation_error" and "name" in r.json()["error"]["fields"]
    r = c.post("/api/v1/orgs/", {"display_name": "missing handle"}, format="json")
    assert r.status_code == 400 and "name" in r.json()["error"]["fields"]
    assert not Organization.objects.exists() and not AuditLog.objects.filter(action="org.created").exists()


def test_patch_org_is_audited_and_members_cannot(world):
    r = client_for(world.admin).patch(url(world.org), {"description": "We build things"}, format="json")
    assert r.status_code == 200 and r.json()["description"] == "We build things"
    entry = AuditLog.objects.get(action="org.updated")
    assert entry.details == {"description": {"old": "", "new": "We build things"}}
    r = client_for(world.member).patch(url(world.org), {"description": "x"}, format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = client_for(world.admin).patch(url(world.org), {"is_active": False}, format="json")
    assert r.status_code == 403  # switching an org off takes the owner
    world.org.refresh_from_db()
    assert world.org.is_active and world.org.description == "We build things"


def test_owner_transfer_endpoint(world):
    r = client_for(world.admin).post(url(world.org, "transfer-ownership"), {"user_id": str(world.admin.pk)}, format="json")
    assert r.status_code == 403
    r = client_for(world.owner).post(url(world.org, "transfer-ownership"), {"user_id": str(world.admin.pk)}, format="json")
    assert r.status_code == 200 and r.json()["owner_id"] == str(world.admin.pk)


# --------------------------------------------------------------------------- departments


def test_departments_flat_and_tree(world):
    c = client_for(world.admin)
    eng = c.post(url(world.org, "departments/"), {"name": "Engineering", "manager_id": str(world.member.pk)}, format="json")
    assert eng.status_code == 201, eng.content
    eng = eng.json()
    assert set(eng) >= {"id", "name", "parent_id", "manager_id"} and eng["manager_id"] == str(world.member.pk)
    be = c.post(url(world.org, "departments/"), {"name": "Backend", "parent_id": eng["id"]}, format="json").json()
    assert be["parent_id"] == eng["id"]
    flat = c.get(url(world.org, "departments/")).json()
    assert {d["name"] for d in flat["results"]} == {"Engineering", "Backend"}
    tree = client_for(world.member).get(url(world.org, "departments/?tree=1")).json()
    assert [(d["name"], [c["name"] for c in d["children"]]) for d in tree["results"]] == [("Engineering", ["Backend"])]
    # the cycle is refused with the contract's error shape
    r = c.patch(url(world.org, f"departments/{eng['id']}/"), {"parent_id": be["id"]}, format="json")
    assert r.status_code == 400 and "parent_id" in r.json()["error"]["fields"]
    # a parent from nowhere is a validation error too
    r = c.post(url(world.org, "departments/"), {"name": "X", "parent_id": str(uuid.uuid4())}, format="json")
    assert r.status_code == 400 and "parent_id" in r.json()["error"]["fields"]
    assert c.delete(url(world.org, f"departments/{eng['id']}/")).status_code == 409
    assert c.delete(url(world.org, f"departments/{be['id']}/")).status_code == 204
    assert Department.objects.count() == 1


def test_list_pagination_uses_opaque_cursors(world):
    for i in range(5):
        services.position_create(actor=world.owner, org=world.org, title=f"P{i}")
    c = client_for(world.member)
    seen, cursor, pages = [], None, 0
    while True:
        r = c.get(url(world.org, "positions/"), {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        assert set(r) == {"results", "next"} and len(r["results"]) <= 2
        seen += [p["title"] for p in r["results"]]
        pages += 1
        cursor = r["next"]
        if not cursor:
            break
        assert "http" not in cursor and "=" not in cursor.rstrip("=")  # a bare token, not a URL
    assert sorted(seen) == [f"P{i}" for i in range(5)] and pages == 3
    assert len(c.get(url(world.org, "positions/"), {"limit": 1000}).json()["results"]) == 5


# --------------------------------------------------------------------------- roles and members


def test_roles_list_has_system_and_org_roles(world):
    c = client_for(world.owner)
    r = c.post(url(world.org, "roles/"), {"name": "editor", "permissions": {"docs": ["*"]}}, format="json")
    assert r.status_code == 201 and r.json()["permissions"] == {"docs": ["*"]}
    names = {x["name"] for x in c.get(url(world.org, "roles/")).json()["results"]}
    assert names == {"owner", "admin", "member", "editor"}
    r = c.post(url(world.org, "roles/"), {"name": "bad", "permissions": {"docs": "read"}}, format="json")
    assert r.status_code == 400 and "permissions" in r.json()["error"]["fields"]


def test_members_add_search_patch_remove(world, make_user):
    c = client_for(world.admin)
    dept = services.department_create(actor=world.owner, org=world.org, name="Finance")
    pos = services.position_create(actor=world.owner, org=world.org, title="Accountant")
    newbie = make_user("zhang_wei")
    member_role = Role.objects.system("member")
    r = c.post(
        url(world.org, "members/"),
        {"user_id": str(newbie.pk), "role_id": str(member_role.pk), "department_id": str(dept.pk),
         "position_id": str(pos.pk)},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["user_id"] == str(newbie.pk) and r.json()["role_name"] == "member"
    assert c.post(url(world.org, "members/"), {"user_id": str(newbie.pk), "role_id": str(member_role.pk)},
                  format="json").status_code == 409

    for q in ("zhang", "Finance", "account"):
        found = client_for(world.member).get(url(world.org, "members/"), {"q": q}).json()["results"]
        assert [m["user"]["username"] for m in found] == ["zhang_wei"], q
    assert len(c.get(url(world.org, "members/")).json()["results"]) == 4

    expires = (timezone.now() + timedelta(days=30)).isoformat()
    r = c.patch(url(world.org, f"members/{newbie.pk}/"), {"expires_at": expires, "department_id": None}, format="json")
    assert r.status_code == 200 and r.json()["department_id"] is None and r.json()["expires_at"]
    r = c.patch(url(world.org, f"members/{newbie.pk}/"), {"role_id": str(uuid.uuid4())}, format="json")
    assert r.status_code == 400 and "role_id" in r.json()["error"]["fields"]
    assert c.delete(url(world.org, f"members/{newbie.pk}/")).status_code == 204
    assert not Membership.objects.filter(user=newbie).exists()
    assert c.delete(url(world.org, f"members/{newbie.pk}/")).status_code == 404


def test_max_members_over_the_api(world, make_user):
    services.org_update(actor=world.owner, org=world.org, max_members=3)
    r = client_for(world.owner).post(
        url(world.org, "members/"),
        {"user_id": str(make_user("extra").pk), "role_id": str(Role.objects.system("member").pk)},
        format="json",
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "max_members_reached"


# --------------------------------------------------------------------------- proxies, X-Act-As, permission check


def test_proxy_create_list_delete(world):
    c = client_for(world.admin)
    body = {"principal_id": str(world.admin.pk), "agent_id": str(world.member.pk), "permissions": {"docs": ["write"]},
            "starts_at": timezone.now().isoformat()}
    r = c.post(url(world.org, "proxies/"), body, format="json")
    assert r.status_code == 201, r.content
    proxy_id = r.json()["id"]
    assert [p["id"] for p in c.get(url(world.org, "proxies/")).json()["results"]] == [proxy_id]
    self_proxy = {**body, "agent_id": str(world.admin.pk)}
    r = c.post(url(world.org, "proxies/"), self_proxy, format="json")
    assert r.status_code == 400 and "agent_id" in r.json()["error"]["fields"]
    assert client_for(world.member).delete(url(world.org, f"proxies/{proxy_id}/")).status_code == 204  # the agent may end it
    assert not Proxy.objects.exists()


def test_x_act_as_runs_the_request_as_the_principal_and_audits_both(world):
    services.proxy_create(
        actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
        permissions={"departments": ["read", "write"], "org": ["read"]},
    )
    c = client_for(world.member)
    # alone, the member cannot write
    assert c.post(url(world.org, "departments/"), {"name": "Legal"}, format="json").status_code == 403
    r = c.post(url(world.org, "departments/"), {"name": "Legal"}, format="json", HTTP_X_ACT_AS=str(world.admin.pk))
    assert r.status_code == 201, r.content
    entry = AuditLog.objects.get(action="org.department.created")
    assert (entry.actor_id, entry.acting_for_id) == (world.member.pk, world.admin.pk)
    # beyond the proxy's grants: refused although the admin could
    r = c.post(url(world.org, "positions/"), {"title": "Clerk"}, format="json", HTTP_X_ACT_AS=str(world.admin.pk))
    assert r.status_code == 403
    # acting for someone without a proxy: refused
    r = c.get(url(world.org, "departments/"), HTTP_X_ACT_AS=str(world.owner.pk))
    assert r.status_code == 403
    r = c.get(url(world.org, "departments/"), HTTP_X_ACT_AS="not-a-uuid")
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"
    assert not Position.objects.exists()


def _check(client, org, resource, action, **params):
    return client.get(url(org, "permissions/check"), {"resource": resource, "action": action, **params})


def _bump(org):
    """After arranging rows directly (not through a service): drop cached grants."""
    from orgs.permissions import bump_version

    bump_version(org.pk)


@pytest.fixture
def narrow(world, make_user):
    """A member whose role holds neither org.read nor members.write, and a
    proxy from the admin that lets them write docs for the admin."""
    role = services.role_create(actor=world.owner, org=world.org, name="docs-only", permissions={"docs": ["read"]})
    agent = make_user("nadia")
    make_membership(world.org, agent, role)
    services.proxy_create(actor=world.admin, org=world.org, principal=world.admin, agent=agent,
                          permissions={"docs": ["write"]})
    return agent


def test_permissions_check_answers_any_member_about_themselves(world, narrow):
    c = client_for(narrow)  # no org.read: every other org endpoint refuses them
    assert c.get(url(world.org)).status_code == 403
    r = _check(c, world.org, "docs", "read")
    assert r.status_code == 200 and r.json() == {"allowed": True, "via": "role"}
    assert _check(c, world.org, "docs", "write").json() == {"allowed": False, "via": None}
    assert _check(c, world.org, "org", "read").json() == {"allowed": False, "via": None}
    # Naming oneself in as_user is asking about oneself: no extra power needed.
    assert _check(c, world.org, "docs", "read", as_user=str(narrow.pk)).json() == {"allowed": True, "via": "role"}
    member = client_for(world.member)
    assert _check(member, world.org, "docs", "read").json() == {"allowed": True, "via": "role"}
    assert _check(member, world.org, "docs", "write").json() == {"allowed": False, "via": None}
    r = member.get(url(world.org, "permissions/check"), {"resource": "docs"})
    assert r.status_code == 400 and "action" in r.json()["error"]["fields"]


def test_permissions_check_for_a_proxy_agent_answers_what_they_may_do_for_the_principal(world, narrow):
    c = client_for(narrow)
    act_as = {"HTTP_X_ACT_AS": str(world.admin.pk)}
    check = url(world.org, "permissions/check")
    r = c.get(check, {"resource": "docs", "action": "write"}, **act_as)
    assert r.status_code == 200 and r.json() == {"allowed": True, "via": "proxy"}
    # Only what both the principal's role and the proxy allow.
    assert c.get(check, {"resource": "docs", "action": "delete"}, **act_as).json() == {"allowed": False, "via": None}
    # Acting for someone without a proxy for them: refused, as on every org endpoint.
    r = c.get(check, {"resource": "docs", "action": "write"}, HTTP_X_ACT_AS=str(world.owner.pk))
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    # Once the proxy's window has closed: refused too.
    now = timezone.now()
    Proxy.objects.filter(agent=narrow).update(starts_at=now - timedelta(hours=1), expires_at=now - timedelta(seconds=1))
    _bump(world.org)
    assert c.get(check, {"resource": "docs", "action": "write"}, **act_as).status_code == 403
    assert c.get(check, {"resource": "docs", "action": "read"}).json() == {"allowed": True, "via": "role"}


def test_permissions_check_about_another_user_takes_a_managers_power(world, narrow):
    check = url(world.org, "permissions/check")
    # Members without members.write (the default member role, a narrow role) may not ask about others.
    for asker in (world.member, narrow):
        r = client_for(asker).get(check, {"resource": "docs", "action": "write", "as_user": str(world.admin.pk)})
        assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    # An admin (members.write) may; the answer is about that user's own grant.
    admin = client_for(world.admin)
    r = admin.get(check, {"resource": "docs", "action": "read", "as_user": str(world.member.pk)})
    assert r.status_code == 200 and r.json() == {"allowed": True, "via": "role"}
    r = admin.get(check, {"resource": "docs", "action": "write", "as_user": str(world.member.pk)})
    assert r.json() == {"allowed": False, "via": None}
    r = admin.get(check, {"resource": "docs", "action": "read", "as_user": str(world.outsider.pk)})
    assert r.json() == {"allowed": False, "via": None}  # not a member: holds nothing here
    r = admin.get(check, {"resource": "docs", "action": "read", "as_user": str(uuid.uuid4())})
    assert r.status_code == 400 and "as_user" in r.json()["error"]["fields"]
    r = admin.get(check, {"resource": "docs", "action": "read", "as_user": "not-a-uuid"})
    assert r.status_code == 400 and "as_user" in r.json()["error"]["fields"]
    # Through a proxy, the power is judged as the principal and the proxy together.
    act_as = {"HTTP_X_ACT_AS": str(world.admin.pk)}
    r = client_for(narrow).get(check, {"resource": "docs", "action": "read", "as_user": str(world.member.pk)}, **act_as)
    assert r.status_code == 403  # the proxy grants docs.write only
    services.proxy_create(actor=world.admin, org=world.org, principal=world.admin, agent=world.member,
                          permissions={"members": ["write"]})
    r = client_for(world.member).get(check, {"resource": "docs", "action": "read", "as_user": str(narrow.pk)},
                                     **act_as)
    assert r.status_code == 200 and r.json() == {"allowed": True, "via": "role"}


def test_permissions_check_for_a_non_member_is_404_like_every_org_endpoint(world, narrow):
    check = {"resource": "docs", "action": "read"}
    stranger = client_for(world.outsider)
    r = stranger.get(url(world.org, "permissions/check"), check)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = stranger.get(url(world.org, "permissions/check"), {**check, "as_user": str(world.owner.pk)})
    assert r.status_code == 404
    # An expired or switched-off membership counts as none.
    Membership.objects.filter(user=narrow).update(expires_at=timezone.now() - timedelta(seconds=1))
    Membership.objects.filter(user=world.member).update(is_active=False)
    _bump(world.org)
    for former in (narrow, world.member):
        r = client_for(former).get(url(world.org, "permissions/check"), check)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert client_for(former).get(url(world.org)).status_code == 404  # the same as elsewhere
    r = client_for(world.owner).get(f"/api/v1/orgs/{uuid.uuid4()}/permissions/check", check)
    assert r.status_code == 404


# --------------------------------------------------------------------------- a non-member reads nothing


def _every_endpoint(world, dept, pos, role, proxy):
    uid = world.member.pk
    return [
        ("get", url(world.org), None),
        ("patch", url(world.org), {"description": "x"}),
        ("post", url(world.org, "transfer-ownership"), {"user_id": str(uid)}),
        ("get", url(world.org, "departments/"), None),
        ("get", url(world.org, "departments/?tree=1"), None),
        ("post", url(world.org, "departments/"), {"name": "X"}),
        ("get", url(world.org, f"departments/{dept.pk}/"), None),
        ("patch", url(world.org, f"departments/{dept.pk}/"), {"name": "Y"}),
        ("delete", url(world.org, f"departments/{dept.pk}/"), None),
        ("get", url(world.org, "positions/"), None),
        ("post", url(world.org, "positions/"), {"title": "X"}),
        ("get", url(world.org, f"positions/{pos.pk}/"), None),
        ("patch", url(world.org, f"positions/{pos.pk}/"), {"title": "Y"}),
        ("delete", url(world.org, f"positions/{pos.pk}/"), None),
        ("get", url(world.org, "roles/"), None),
        ("post", url(world.org, "roles/"), {"name": "x", "permissions": {"a": ["b"]}}),
        ("get", url(world.org, f"roles/{role.pk}/"), None),
        ("patch", url(world.org, f"roles/{role.pk}/"), {"name": "y"}),
        ("delete", url(world.org, f"roles/{role.pk}/"), None),
        ("get", url(world.org, "members/"), None),
        ("post", url(world.org, "members/"), {"user_id": str(uid), "role_id": str(role.pk)}),
        ("get", url(world.org, f"members/{uid}/"), None),
        ("patch", url(world.org, f"members/{uid}/"), {"is_active": False}),
        ("delete", url(world.org, f"members/{uid}/"), None),
        ("get", url(world.org, "proxies/"), None),
        ("post", url(world.org, "proxies/"), {"principal_id": str(uid), "agent_id": str(uid), "permissions": {}}),
        ("get", url(world.org, f"proxies/{proxy.pk}/"), None),
        ("delete", url(world.org, f"proxies/{proxy.pk}/"), None),
        ("get", url(world.org, "permissions/check?resource=docs&action=read"), None),
    ]


def test_non_member_gets_404_on_every_endpoint_and_changes_nothing(filled, make_user):
    world, *rest = filled
    strangers = (world.outsider, make_user("stranger"))
    before = AuditLog.objects.count()
    for who in strangers:
        c = client_for(who)
        for method, path, body in _every_endpoint(world, *rest):
            r = getattr(c, method)(path, body, format="json") if body else getattr(c, method)(path)
            assert r.status_code == 404, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "not_found"
            # X-Act-As naming a member does not open the door either
            r = getattr(c, method)(path, body or {}, format="json", HTTP_X_ACT_AS=str(world.owner.pk))
            assert r.status_code == 404, (method, path, "act-as")
    assert AuditLog.objects.count() == before
    assert Department.objects.count() == 1 and Membership.objects.filter(org=world.org).count() == 3


def test_a_former_member_and_an_expired_member_read_nothing(filled):
    world, *_ = filled
    Membership.objects.filter(user=world.member).update(expires_at=timezone.now() - timedelta(seconds=1))
    c = client_for(world.member)
    for path in (url(world.org), url(world.org, "members/"), url(world.org, "departments/")):
        assert c.get(path).status_code == 404
    assert c.get("/api/v1/orgs/").json()["results"] == []


def test_unknown_and_malformed_org_ids_are_404(world):
    c = client_for(world.owner)
    assert c.get(f"/api/v1/orgs/{uuid.uuid4()}/").status_code == 404
    assert c.get("/api/v1/orgs/not-a-uuid/members/").status_code == 404


def test_anonymous_is_401(world):
    r = APIClient().get(url(world.org))
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"



def test_api_keys_need_the_orgs_scopes(world):
    from accounts.services import api_key_create

    _, read_only = api_key_create(user=world.admin, name="reader", scopes=["orgs:read"])
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {read_only}")
    assert c.get(url(world.org, "departments/")).status_code == 200
    r = c.post(url(world.org, "departments/"), {"name": "X"}, format="json")
    assert r.status_code == 403 and not Department.objects.exists()
    _, writer = api_key_create(user=world.admin, name="writer", scopes=["orgs:read", "orgs:write"])
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {writer}")
    assert c.post(url(world.org, "departments/"), {"name": "X"}, format="json").status_code == 201
    _, chat_only = api_key_create(user=world.admin, name="chat", scopes=["chat:read"])
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {chat_only}")
    assert c.get(url(world.org)).status_code == 403
