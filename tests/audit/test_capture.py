"""Capture: the middleware's request fields, and every admin add, change,
delete and action (through the audited default admin site)."""

import pytest
from django.contrib.admin import site
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.test import RequestFactory

from audit.admin_site import AuditedModelAdminMixin
from audit.context import AuditContextMiddleware
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import verify
from core.client_ip import client_ip

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user, client):
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def entries(action):
    return list(AuditLog.objects.filter(action=action).order_by("created_at"))


def test_every_registered_model_admin_is_audited():
    assert site._registry, "admin autodiscovery registered nothing"
    assert all(isinstance(model_admin, AuditedModelAdminMixin) for model_admin in site._registry.values())


def test_admin_add_records_the_new_values_and_the_request(client, staff):
    response = client.post(
        "/admin/auth/group/add/", {"name": "auditors"},
        HTTP_USER_AGENT="AdminBrowser/1.0", HTTP_X_REQUEST_ID="req-admin-add-1", REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-admin-add-1"
    group = Group.objects.get(name="auditors")
    [entry] = entries("admin.add")
    assert (entry.actor, entry.resource_type, entry.resource_id) == (staff, "auth.group", str(group.pk))
    assert entry.details["new"]["name"] == "auditors"
    assert (entry.request_id, entry.ip, entry.user_agent) == ("req-admin-add-1", "192.0.2.10", "AdminBrowser/1.0")
    assert verify().ok


def test_admin_change_records_old_and_new_values(client, staff):
    group = Group.objects.create(name="before")
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "after"})
    assert response.status_code == 302
    [entry] = entries("admin.change")
    assert entry.resource_id == str(group.pk)
    assert entry.details["changes"] == {"name": {"old": "before", "new": "after"}}


def test_admin_delete_records_the_old_values(client, staff):
    group = Group.objects.create(name="doomed")
    response = client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Group.objects.filter(pk=group.pk).exists()
    [entry] = entries("admin.delete")
    assert entry.resource_id == str(group.pk) and entry.details["old"]["name"] == "doomed"


def test_admin_action_records_the_action_and_each_deletion_only_when_confirmed(client, staff):
    groups = [Group.objects.create(name=f"g{n}") for n in range(3)]
    data = {"action": "delete_selected", "_selected_action": [g.pk for g in groups[:2]]}
    confirmation = client.post("/admin/auth/group/", data)
    assert confirmation.status_code == 200  # the "are you sure?" page: nothing done, nothing recorded
    assert entries("admin.action") == [] and entries("admin.delete") == []

    done = client.post("/admin/auth/group/", {**data, "post": "yes"})
    assert done.status_code == 302
    [action] = entries("admin.action")
    assert action.details["action"] == "delete_selected"
    assert action.details["count"] == 2
    assert sorted(action.details["ids"]) == sorted(str(g.pk) for g in groups[:2])
    assert sorted(e.resource_id for e in entries("admin.delete")) == sorted(str(g.pk) for g in groups[:2])
    assert list(Group.objects.values_list("name", flat=True)) == ["g2"]


def test_admin_secrets_are_masked_in_details(make_user):
    from audit.admin_site import snapshot

    values = snapshot(make_user("target"))
    assert values["username"] == "target" and values["password"] == "***"


def test_middleware_generates_a_request_id_when_none_is_sent(rf):
    seen = {}

    def view(request):
        seen["entry"] = audit_record(action="test.in_request")
        return HttpResponse("ok")

    request = rf.get("/", HTTP_USER_AGENT="UA/2", REMOTE_ADDR="198.51.100.4")
    response = AuditContextMiddleware(view)(request)
    entry = seen["entry"]
    assert len(response["X-Request-ID"]) == 32 and entry.request_id == response["X-Request-ID"]
    assert (entry.ip, entry.user_agent) == ("198.51.100.4", "UA/2")
    # Outside the request the context is empty again.
    assert audit_record(action="test.after_request").request_id == ""


def test_a_malformed_request_id_is_replaced(rf):
    response = AuditContextMiddleware(lambda r: HttpResponse())(rf.get("/", HTTP_X_REQUEST_ID="bad id\n<script>"))
    assert response["X-Request-ID"] != "bad id\n<script>" and len(response["X-Request-ID"]) == 32


def test_client_ip_trusts_forwarded_for_only_from_trusted_proxies(settings):
    factory = RequestFactory()
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 10.0.0.2", "REMOTE_ADDR": "10.0.0.1"}
    settings.TRUSTED_PROXIES = []
    assert client_ip(factory.get("/", **forwarded)) == "10.0.0.1"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(factory.get("/", **forwarded)) == "203.0.113.9"
    # A direct client cannot claim another address.
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "REMOTE_ADDR": "198.51.100.7"}
    assert client_ip(factory.get("/", **spoofed)) == "198.51.100.7"
