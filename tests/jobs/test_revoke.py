"""Revoking grants: DELETE /api/v1/remotes/{name}/permissions/{id}/, the
permissions page's Revoke button and the admin's delete all go through
jobs.services.permission_revoke (who may grant may revoke; audited)."""

import uuid

import pytest
from rest_framework.test import APIClient

from audit.models import AuditLog
from jobs import services
from jobs.models import Job, RemotePermission

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def setup(power, make_user, make_local):
    """src and dst (the power user's); alice may copy src -> dst."""
    alice = make_user("alice")
    src, _ = make_local("src", {"a.txt": "a"})
    dst, _ = make_local("dst")
    grant = services.permission_grant(actor=power, remote=src, user=alice, permissions=["read"])
    services.permission_grant(actor=power, remote=dst, user=alice, permissions=["read", "write"])
    return alice, src, grant


def copy_body():
    return {"type": "copy", "source": {"remote": "src", "path": "/"}, "destination": {"remote": "dst", "path": "/"}}


def url(grant_id, remote="src"):
    return f"/api/v1/remotes/{remote}/permissions/{grant_id}/"


def test_admin_revokes_and_the_users_next_submission_is_refused(power, setup):
    alice, src, grant = setup
    alice_api = client_for(alice)
    assert alice_api.post("/api/v1/jobs/", copy_body(), format="json").status_code == 201
    response = client_for(power).delete(url(grant.id))
    assert response.status_code == 204
    assert not RemotePermission.objects.filter(pk=grant.pk).exists()
    entry = AuditLog.objects.get(action="remote.permission.revoked", resource_id=str(grant.id))
    assert entry.actor == power
    assert entry.details["user_id"] == str(alice.id) and entry.details["permissions"] == ["read"]
    refused = alice_api.post("/api/v1/jobs/", copy_body(), format="json")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert Job.objects.filter(user=alice).count() == 1
    # Gone now: a second revoke is 404.
    again = client_for(power).delete(url(grant.id))
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


def test_a_non_admin_may_not_revoke(power, setup, make_user):
    alice, src, grant = setup
    # alice can read src but does not administer it: 403 in the contract's shape.
    response = client_for(alice).delete(url(grant.id))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied" and response.json()["error"]["message"]
    own = RemotePermission.objects.get(remote=src, user=power)
    assert client_for(alice).delete(url(own.id)).status_code == 403
    assert RemotePermission.objects.filter(pk__in=[grant.pk, own.pk]).count() == 2
    assert not AuditLog.objects.filter(action="remote.permission.revoked").exists()
    # Someone with no access to the remote does not learn it exists.
    stranger = client_for(make_user("stranger"))
    assert stranger.delete(url(grant.id)).status_code == 404


def test_unknown_and_malformed_ids_are_404(power, setup):
    alice, src, grant = setup
    api = client_for(power)
    for path in (url(uuid.uuid4()), url("not-a-uuid"), url(grant.id, remote="dst"), url(grant.id, remote="nope")):
        response = api.delete(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert RemotePermission.objects.filter(pk=grant.pk).exists()


def test_who_may_grant_may_revoke(power, setup, make_user):
    alice, src, grant = setup
    manager = make_user("manager")  # not a power user, but administers src
    services.permission_grant(actor=power, remote=src, user=manager, permissions=["admin"])
    assert client_for(manager).delete(url(grant.id)).status_code == 204
    assert AuditLog.objects.get(action="remote.permission.revoked").actor == manager


def test_revoke_needs_the_write_scope(power, setup):
    from accounts.services import api_key_create

    alice, src, grant = setup
    _, key = api_key_create(user=power, name="ro", scopes=["jobs:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.delete(url(grant.id)).status_code == 403
    assert RemotePermission.objects.filter(pk=grant.pk).exists()


# --------------------------------------------------------------------------- page


def test_permissions_page_revoke_button(client, power, setup):
    alice, src, grant = setup
    client.force_login(power)
    action = f"/jobs/remotes/src/permissions/{grant.id}/revoke/"
    page = client.get("/jobs/remotes/src/permissions/").content.decode()
    assert f'action="{action}"' in page and "Revoke" in page
    assert client.get(action).status_code == 405
    response = client.post(action, follow=True)
    assert response.redirect_chain[-1][0] == "/jobs/remotes/src/permissions/"
    assert b"Grant revoked." in response.content
    assert not RemotePermission.objects.filter(pk=grant.pk).exists()
    assert AuditLog.objects.filter(action="remote.permission.revoked", resource_id=str(grant.id)).exists()
    assert client.post(action).status_code == 404  # already gone
    assert client.post(f"/jobs/remotes/src/permissions/{uuid.uuid4()}/revoke/").status_code == 404


def test_page_revoke_by_a_non_admin_is_refused(client, power, setup):
    alice, src, grant = setup
    client.force_login(alice)
    assert client.post(f"/jobs/remotes/src/permissions/{grant.id}/revoke/").status_code == 404
    assert RemotePermission.objects.filter(pk=grant.pk).exists()


# --------------------------------------------------------------------------- admin


def test_admin_delete_of_a_grant_is_an_audited_revoke(client, power, setup, make_user):
    alice, src, grant = setup
    staff = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(f"/admin/jobs/remotepermission/{grant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not RemotePermission.objects.filter(pk=grant.pk).exists()
    assert AuditLog.objects.get(action="remote.permission.revoked", resource_id=str(grant.id)).actor == staff
    other = RemotePermission.objects.get(remote=src, user=power)
    response = client.post("/admin/jobs/remotepermission/", {"action": "delete_selected",
                                                             "_selected_action": [str(other.pk)], "post": "yes"})
    assert response.status_code == 302
    assert AuditLog.objects.filter(action="remote.permission.revoked", resource_id=str(other.id)).exists()
