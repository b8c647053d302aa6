"""Editing a remote: one service (jobs.services.remote_update) behind the API's
PATCH, the remotes page's edit form and the admin, with the validation of
creation, secrets kept when omitted or blank and never shown, and audit
entries that name options but never hold a secret."""

import json
import re

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from audit.models import AuditLog
from jobs import services
from jobs.models import Remote
from jobs.secrets import decrypt_options

pytestmark = pytest.mark.django_db

SECRET = "Orig-s3cret-pass"
NEW_SECRET = "N3w-s3cret-pass"


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def dav(power, roots):
    return services.remote_create(actor=power, name="dav", type="webdav",
                                  options={"url": "http://h/", "user": "u", "pass": SECRET})


def secrets_of(name):
    return decrypt_options(Remote.objects.get(name=name).secret_options)


def audit_text():
    return json.dumps(list(AuditLog.objects.values("details")))


# --------------------------------------------------------------------------- API


def test_patch_changes_options_and_keeps_omitted_or_blank_secrets(power, dav):
    api = client_for(power)
    cipher = Remote.objects.get(name="dav").secret_options
    response = api.patch("/api/v1/remotes/dav/", {"options": {"url": "http://h2/", "user": "v"},
                                                  "description": "moved"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["options"] == {"url": "http://h2/", "user": "v"} and body["secret_options_set"] == ["pass"]
    assert body["description"] == "moved"
    assert secrets_of("dav") == {"pass": SECRET}
    assert Remote.objects.get(name="dav").secret_options == cipher  # untouched, not even re-encrypted
    # A blank secret is "not given" as well.
    api.patch("/api/v1/remotes/dav/", {"options": {"url": "http://h2/", "user": "v", "pass": ""}}, format="json")
    assert secrets_of("dav") == {"pass": SECRET}
    # A new value replaces it; it is never returned.
    response = api.patch("/api/v1/remotes/dav/", {"options": {"url": "http://h2/", "user": "v", "pass": NEW_SECRET}},
                         format="json")
    assert response.status_code == 200 and NEW_SECRET not in response.content.decode()
    assert secrets_of("dav") == {"pass": NEW_SECRET}
    assert NEW_SECRET not in api.get("/api/v1/remotes/dav/").content.decode()
    # Audit: option names, never secret values.
    entries = list(AuditLog.objects.filter(action="remote.updated").order_by("created_at"))
    assert len(entries) == 2  # the blank-secret PATCH changed nothing: no entry
    assert entries[0].details["options"]["new"] == {"url": "http://h2/", "user": "v"}
    assert entries[0].details["description"] == {"old": "", "new": "moved"}
    assert "secret_options" not in entries[0].details
    assert entries[1].details["secret_options"] == {"old": {"pass": "***"}, "new": {"pass": "***"}}
    assert SECRET not in audit_text() and NEW_SECRET not in audit_text()


def test_remove_secrets_drops_named_secrets(power, dav):
    api = client_for(power)
    response = api.patch("/api/v1/remotes/dav/", {"remove_secrets": ["pass"]}, format="json")
    assert response.status_code == 200 and response.json()["secret_options_set"] == []
    assert secrets_of("dav") == {}
    entry = AuditLog.objects.get(action="remote.updated")
    assert entry.details["secret_options"] == {"old": {"pass": "***"}, "new": {}}


@pytest.mark.parametrize("body, field", [
    ({"options": {"url": "http://h/", "bearer_token_command": "curl evil"}}, "options.bearer_token_command"),
    ({"options": {"url": "http://h/", "nope": "1"}}, "options.nope"),
    ({"options": {"user": "u"}}, "options.url"),  # required
    ({"options": {"url": "http://h/\nx = y"}}, "options.url"),  # config injection
    ({"options": ["url"]}, "options"),
    ({"name": "bad:name"}, "name"),
    ({"name": ""}, "name"),
    ({"type": "local"}, "type"),
    ({"is_active": False}, "is_active"),  # not an API field
    ({"remove_secrets": ["user"]}, "remove_secrets"),
    ({"remove_secrets": "pass"}, "remove_secrets"),
    ({"remove_secrets": [{"x": 1}]}, "remove_secrets"),
    ({"description": 5}, "description"),
    ({"options": {"url": "http://h/", "pass": "x"}, "remove_secrets": ["pass"]}, "options.pass"),
])
def test_bad_patches_are_400_in_the_contract_shape_and_change_nothing(power, dav, body, field):
    before = Remote.objects.filter(name="dav").values().get()
    response = client_for(power).patch("/api/v1/remotes/dav/", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"], error
    assert Remote.objects.filter(pk=dav.pk).values().get() == before
    assert not AuditLog.objects.filter(action="remote.updated").exists()


def test_non_object_body_is_400(power, dav):
    response = client_for(power).patch("/api/v1/remotes/dav/", [1, 2], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_program_options_refused_for_sftp_and_local_roots_checked(power, roots, make_local):
    services.remote_create(actor=power, name="box", type="sftp", options={"host": "h", "pass": SECRET})
    api = client_for(power)
    for option in ("ssh", "server_command"):
        response = api.patch("/api/v1/remotes/box/", {"options": {"host": "h", option: "sh -c x"}}, format="json")
        assert response.status_code == 400 and f"options.{option}" in response.json()["error"]["fields"]
    make_local("data")
    outside = api.patch("/api/v1/remotes/data/", {"options": {"root": "/etc"}}, format="json")
    assert outside.status_code == 400 and "options.root" in outside.json()["error"]["fields"]
    escape = api.patch("/api/v1/remotes/data/", {"options": {"root": f"{roots}/data/../../"}}, format="json")
    assert escape.status_code == 400
    (roots / "other").mkdir()
    inside = api.patch("/api/v1/remotes/data/", {"options": {"root": f"{roots}/other"}}, format="json")
    assert inside.status_code == 200 and inside.json()["options"] == {"root": str(roots / "other")}


def test_changing_a_root_drops_the_browse_cache(power, make_local, roots):
    make_local("data", {"old.txt": "o"})
    (roots / "other").mkdir()
    (roots / "other" / "new.txt").write_text("n")
    api = client_for(power)
    assert [e["name"] for e in api.get("/api/v1/remotes/data/browse?path=/").json()["entries"]] == ["old.txt"]
    assert api.patch("/api/v1/remotes/data/", {"options": {"root": str(roots / "other")}},
                     format="json").status_code == 200
    # With transaction=False the on_commit callback does not run; call what it runs.
    from django.core.cache import cache

    cache.delete_pattern(f"cache:files:{Remote.objects.get(name='data').id}:*")
    assert [e["name"] for e in api.get("/api/v1/remotes/data/browse?path=/").json()["entries"]] == ["new.txt"]


def test_who_may_edit(power, dav, make_user):
    reader = make_user("reader")
    plain_admin = make_user("plainadmin")
    other_power = make_user("power2", role="power_user")
    staff = make_user("staff", is_staff=True)
    services.permission_grant(actor=power, remote=dav, user=reader, permissions=["read"])
    services.permission_grant(actor=power, remote=dav, user=plain_admin, permissions=["admin"])
    body = {"description": "x"}
    # A grantee without admin, and an admin of the remote who is not a power user: 403.
    for user in (reader, plain_admin):
        response = client_for(user).patch("/api/v1/remotes/dav/", body, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    # A power user with no grant does not even see it.
    assert client_for(other_power).patch("/api/v1/remotes/dav/", body, format="json").status_code == 404
    assert client_for(staff).patch("/api/v1/remotes/dav/", body, format="json").status_code == 200
    assert client_for(power).patch("/api/v1/remotes/nope/", body, format="json").status_code == 404
    # An API key needs jobs:write.
    _, key = api_key_create(user=power, name="ro", scopes=["jobs:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/remotes/dav/").status_code == 200
    assert client.patch("/api/v1/remotes/dav/", body, format="json").status_code == 403


def test_rename_carries_into_schedules_and_is_refused_with_active_jobs(power, make_local):
    make_local("src", {"a.txt": "a"})
    make_local("dst")
    template = {"type": "copy", "source": {"remote": "src", "path": "/"}, "destination": {"remote": "dst", "path": "/"}}
    rule = services.schedule_create(actor=power, name="n", rule_type="interval", interval_seconds=3600,
                                    job_template=template)
    api = client_for(power)
    taken = api.patch("/api/v1/remotes/src/", {"name": "dst"}, format="json")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conflict"
    job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/"})
    busy = api.patch("/api/v1/remotes/src/", {"name": "source"}, format="json")
    assert busy.status_code == 409 and Remote.objects.filter(name="src").exists()
    # The description is not what jobs depend on: allowed while they run.
    assert api.patch("/api/v1/remotes/src/", {"description": "d"}, format="json").status_code == 200
    services.job_cancel(actor=power, job=job)
    renamed = api.patch("/api/v1/remotes/src/", {"name": "source"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "source"
    rule.refresh_from_db()
    assert rule.job_template["source"] == {"remote": "source", "path": "/"}
    assert rule.job_template["destination"]["remote"] == "dst"
    assert api.get("/api/v1/remotes/source/browse?path=/").status_code == 200
    assert api.get("/api/v1/remotes/src/").status_code == 404
    entry = AuditLog.objects.filter(action="remote.updated").latest("created_at")
    assert entry.details["name"] == {"old": "src", "new": "source"}
    assert entry.details["schedules_updated"] == [str(rule.id)]


def test_deactivating_is_refused_with_active_jobs(power, make_local):
    remote, _ = make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    from core.errors import Conflict

    with pytest.raises(Conflict):
        services.remote_update(actor=power, remote=remote, is_active=False)
    services.job_cancel(actor=power, job=job)
    assert services.remote_update(actor=power, remote=remote, is_active=False).is_active is False


def test_schema_lists_the_new_paths(client):
    schema = client.get("/api/schema/").content
    assert re.search(rb"/api/v1/remotes/\{name\}/[\"']?:", schema)  # the detail path itself, as a key
    assert re.search(rb"/api/v1/remotes/\{name\}/permissions/\{grant_id\}/[\"']?:", schema)


# --------------------------------------------------------------------------- page


@pytest.fixture
def page(client, power):
    client.force_login(power)
    return client


def test_edit_page_never_shows_secrets_and_blank_keeps_them(page, dav):
    listing = page.get("/jobs/remotes/")
    assert b'href="/jobs/remotes/dav/edit/"' in listing.content
    form = page.get("/jobs/remotes/dav/edit/")
    assert form.status_code == 200
    html = form.content.decode()
    assert SECRET not in html and Remote.objects.get(name="dav").secret_options not in html
    # One field per option of the type; the secret is a blank password field.
    assert 'type="password" id="opt_pass" name="opt_pass" value=""' in html and "(set)" in html
    assert 'name="opt_url" value="http://h/"' in html and "options" not in html.split('name="opt_url"')[0][-200:]
    response = page.post("/jobs/remotes/dav/edit/", {"name": "dav", "description": "d", "opt_pass": "",
                                                    "opt_url": "http://h3/", "opt_user": "w"})
    assert response.status_code == 302 and response["Location"] == "/jobs/remotes/"
    remote = Remote.objects.get(name="dav")
    assert remote.options == {"url": "http://h3/", "user": "w"} and remote.description == "d"
    assert secrets_of("dav") == {"pass": SECRET}
    page.post("/jobs/remotes/dav/edit/", {"name": "dav", "opt_pass": NEW_SECRET, "opt_url": "http://h3/",
                                         "opt_user": "w"})
    assert secrets_of("dav") == {"pass": NEW_SECRET}
    assert NEW_SECRET not in page.get("/jobs/remotes/dav/edit/").content.decode()
    page.post("/jobs/remotes/dav/edit/", {"name": "dav", "remove_secrets": ["pass"], "opt_url": "http://h3/",
                                         "opt_user": "w"})
    assert secrets_of("dav") == {}
    assert NEW_SECRET not in audit_text()


@pytest.mark.parametrize("post, shown", [
    ({"name": "dav", "opt_url": ""}, b"This option is required."),
    ({"name": "bad name", "opt_url": "http://typed.example/"}, b"letters, digits or underscores"),
    ({"name": "dav", "opt_url": "http://h/\x01"}, b"Control characters"),
])
def test_edit_page_errors_are_form_errors_and_change_nothing(page, dav, post, shown):
    before = Remote.objects.filter(name="dav").values().get()
    response = page.post("/jobs/remotes/dav/edit/", {**post, "opt_user": "typed_user", "opt_pass": NEW_SECRET})
    assert response.status_code == 200 and shown in response.content
    assert b'data-testid="form-error"' in response.content
    # What the user typed is kept, except the secret, which is not echoed back.
    assert b'value="typed_user"' in response.content
    assert f'value="{post["name"]}"'.encode() in response.content
    assert NEW_SECRET.encode() not in response.content
    assert Remote.objects.filter(pk=dav.pk).values().get() == before


def test_edit_page_is_for_editors_only(client, dav, power, make_user):
    plain_admin = make_user("plainadmin")
    services.permission_grant(actor=power, remote=dav, user=plain_admin, permissions=["admin"])
    client.force_login(plain_admin)
    assert b"/jobs/remotes/dav/edit/" not in client.get("/jobs/remotes/").content
    assert client.get("/jobs/remotes/dav/edit/").status_code == 404
    assert client.post("/jobs/remotes/dav/edit/", {"name": "x", "opt_url": "http://x/"}).status_code == 404
    assert Remote.objects.filter(name="dav").exists()


# --------------------------------------------------------------------------- admin


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    return client


def admin_post(remote, **changes):
    data = {"name": remote.name, "description": remote.description, "is_active": "on",
            "options_json": json.dumps(remote.options), "secret_pass": "", "secret_bearer_token": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_change_goes_through_the_service_and_hides_secrets(staff_client, dav):
    url = f"/admin/jobs/remote/{dav.pk}/change/"
    page = staff_client.get(url).content.decode()
    assert SECRET not in page and dav.secret_options not in page
    assert 'name="secret_pass"' in page
    response = staff_client.post(url, admin_post(dav, options_json='{"url": "http://h9/", "user": "z"}'))
    assert response.status_code == 302, response.content[:3000]
    remote = Remote.objects.get(pk=dav.pk)
    assert remote.options == {"url": "http://h9/", "user": "z"} and secrets_of("dav") == {"pass": SECRET}
    assert AuditLog.objects.get(action="remote.updated").details["options"]["new"] == {"url": "http://h9/", "user": "z"}
    staff_client.post(url, admin_post(remote, secret_pass=NEW_SECRET))
    assert secrets_of("dav") == {"pass": NEW_SECRET}
    page = staff_client.get(url).content.decode()
    assert NEW_SECRET not in page and Remote.objects.get(pk=dav.pk).secret_options not in page
    staff_client.post(url, admin_post(remote, remove_secrets="pass"))
    assert secrets_of("dav") == {}
    renamed = staff_client.post(url, admin_post(remote, name="dav2"))
    assert renamed.status_code == 302 and Remote.objects.get(pk=dav.pk).name == "dav2"
    assert NEW_SECRET not in audit_text()


def test_admin_refusals_change_nothing(staff_client, dav, roots):
    url = f"/admin/jobs/remote/{dav.pk}/change/"
    before = Remote.objects.filter(pk=dav.pk).values().get()
    for bad in ({"options_json": '{"url": "http://h/", "bearer_token_command": "x"}'},
                {"options_json": "not json"}, {"name": "bad:name"}, {"options_json": '{"user": "u"}'}):
        response = staff_client.post(url, admin_post(dav, secret_pass=NEW_SECRET, **bad), follow=True)
        assert response.status_code == 200
        assert NEW_SECRET.encode() not in response.content
        assert Remote.objects.filter(pk=dav.pk).values().get() == before, bad
    assert not AuditLog.objects.filter(action="remote.updated").exists()


def test_admin_delete_goes_through_the_service(staff_client, dav):
    response = staff_client.post(f"/admin/jobs/remote/{dav.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Remote.objects.filter(pk=dav.pk).exists()
    assert AuditLog.objects.filter(action="remote.deleted", resource_id=str(dav.pk)).exists()


def test_admin_and_page_edit_forms_for_types_without_secrets(staff_client, power, make_local, roots):
    local, _ = make_local("data")
    memory = services.remote_create(actor=power, name="mem", type="memory")
    for remote in (local, memory):
        page = staff_client.get(f"/admin/jobs/remote/{remote.pk}/change/")
        assert page.status_code == 200 and b"secret_" not in page.content
    (roots / "other").mkdir()
    response = staff_client.post(f"/admin/jobs/remote/{local.pk}/change/", {
        "name": "data", "description": "", "is_active": "on", "options_json": json.dumps({"root": str(roots / "other")})})
    assert response.status_code == 302
    assert Remote.objects.get(pk=local.pk).options == {"root": str(roots / "other")}
    outside = staff_client.post(f"/admin/jobs/remote/{local.pk}/change/", {
        "name": "data", "description": "", "is_active": "on", "options_json": '{"root": "/etc"}'}, follow=True)
    assert b"RCLONE_LOCAL_ROOTS" in outside.content
    assert Remote.objects.get(pk=local.pk).options == {"root": str(roots / "other")}
    staff_client.force_login(power)
    assert staff_client.get("/jobs/remotes/data/edit/").status_code == 200
