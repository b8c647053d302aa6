"""Hostile HTTP input answers 400 (the contract's JSON error under /api/, an
HTML page or a form error elsewhere), never a DataError or RecursionError
and a 500: NUL and non-UTF-8 in paths, query strings, headers and form
fields (config.middleware); JSON typed into pages and the admin
(config.forms); a disallowed Host header (config.views)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from jobs.models import Remote
from orgs.models import Organization, Role
from orgs.services import org_create

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


def assert_api_error(response, status=400, code="validation_error"):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def assert_html_400(response):
    assert response.status_code == 400, response.content[:500]
    assert response["Content-Type"].startswith("text/html")


@pytest.fixture
def user(make_user):
    return make_user("hostile")


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    return client


# ------------------------------------------------------------------ path and query


@pytest.mark.parametrize("method, path, field", [
    ("post", "/api/v1/invites/ab%00cd/accept", "path"),
    ("delete", "/api/v1/messages/0b9c6c1e-5a8e-4f00-9a51-3f1d2a7c9e10/reactions/%F0%9F%91%8D%00/", "path"),
    ("get", "/api/v1/rooms/?q=a%00b", "q"),
    ("get", "/api/v1/search/messages?q=%00", "q"),
    ("get", "/api/v1/orgs/?cursor=x%00", "cursor"),
    ("get", "/api/v1/rooms/?q=%FF", "query"),
    ("get", "/api/v1/rooms/?q=%ED%A0%80", "query"),
])
def test_api_refuses_nul_and_bad_encoding_in_path_and_query(user_client, method, path, field):
    error = assert_api_error(getattr(user_client, method)(path))
    assert field in error["fields"]


def test_anonymous_api_caller_gets_the_same_400(client):
    assert_api_error(client.post("/api/v1/invites/%00/accept"))


@pytest.mark.parametrize("path", ["/chat/?q=%00", "/orgs/?q=x%00", "/admin/accounts/user/?q=%00", "/chat/%00/",
                                  "/jobs/?status=%FF"])
def test_pages_refuse_nul_and_bad_encoding_with_html_400(staff_client, path):
    assert_html_400(staff_client.get(path))


async def asgi_get(path: str, raw_path: bytes | None = None):
    """One request straight into Django's ASGI handler, with the scope a
    server builds (the test clients do not pass raw_path or lone surrogates)."""
    from django.core.handlers.asgi import ASGIHandler

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "query_string": b"", "headers": [(b"host", b"testserver")],
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
    if raw_path is not None:
        scope["raw_path"] = raw_path
    sent, received = [], asyncio.Event()

    async def receive():
        if received.is_set():
            await asyncio.Event().wait()  # the client stays connected
        received.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await ASGIHandler()(scope, receive, send)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


@pytest.mark.parametrize("raw_path", [b"/api/v1/invites/%ED%A0%80/accept", b"/api/v1/invites/%FF/accept"])
async def test_asgi_path_with_invalid_utf8_is_refused(raw_path):
    # uvicorn and daphne pass the path as sent (raw_path) beside their decoded one.
    status, body = await asgi_get("/api/v1/invites/\ufffd/accept", raw_path)
    assert status == 400
    assert body["error"]["fields"] == {"path": ["The path is not valid UTF-8."]}


async def test_asgi_path_with_a_lone_surrogate_is_refused():
    # A server that decoded the path itself and passed no raw_path.
    status, body = await asgi_get("/api/v1/rooms/\ud800/")
    assert status == 400 and body["error"]["code"] == "validation_error"


def test_wsgi_path_with_invalid_utf8_is_text_not_a_crash(user_client):
    # Django re-percent-encodes broken UTF-8 in PATH_INFO: the lookup is for
    # the literal text "%FF", which no invite has.
    assert_api_error(user_client.post("/api/v1/invites/%FF/accept"), 404, "not_found")


def test_nul_in_a_header_is_refused(user_client):
    error = assert_api_error(user_client.get("/api/v1/me", HTTP_USER_AGENT="evil\x00agent"))
    assert "User-Agent" in error["fields"]


# ------------------------------------------------------------------ form bodies


def test_page_form_field_with_nul_is_refused(user_client):
    response = user_client.post("/orgs/", {"name": "acme\x00", "display_name": "Acme"})
    assert_html_400(response)
    assert not Organization.objects.filter(display_name="Acme").exists()


def test_admin_form_field_with_nul_is_refused(staff_client):
    assert_html_400(staff_client.post("/admin/jobs/remote/add/", {
        "name": "dav\x00", "type": "webdav", "description": "", "options_json": "{}"}))
    assert not Remote.objects.exists()


def test_api_json_body_fields_are_covered_by_safejson(user_client, user):
    org = org_create(owner=user, name="acme")
    for permissions in ('{"docs": ["re\\u0000ad"]}', '{"\\ud800": ["read"]}', '{"a": ' + "[" * 5000 + "]" * 5000 + "}"):
        response = user_client.post(f"/api/v1/orgs/{org.pk}/roles/", '{"name": "r", "permissions": ' + permissions + "}",
                                    content_type="application/json")
        assert_api_error(response)
    assert not Role.objects.filter(org=org).exists()


# ------------------------------------------------------------------ JSON typed into pages and the admin


@pytest.mark.parametrize("text, message", [
    ("/x\x01", "Control characters"),
    ("/" + "x" * 9000, "very long values are refused"),
    ("/etc/../etc", "Must lie inside one of the directories in RCLONE_LOCAL_ROOTS."),
    ("relative/dir", "Must be an absolute directory path."),
])
def test_jobs_remote_form_fields_answer_a_form_error(client, make_user, text, message, tmp_path, settings):
    # The remote form has no JSON field any more (one field per option); what
    # is typed into a field is checked by the same validation as the API's.
    settings.RCLONE_LOCAL_ROOTS = [str(tmp_path)]
    client.force_login(make_user("power", role="power_user"))
    response = client.post("/jobs/remotes/new/", {"name": "data", "type": "local", "opt_root": text})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Remote.objects.exists()


def test_a_nul_typed_into_the_remote_form_is_a_400_page(client, make_user):
    client.force_login(make_user("power", role="power_user"))
    response = client.post("/jobs/remotes/new/", {"name": "data", "type": "local", "opt_root": "/x\x00"})
    assert response.status_code == 400 and b'data-testid="error-page"' in response.content
    assert not Remote.objects.exists()


def test_roles_page_json_field_answers_a_form_error(user_client, user):
    org = org_create(owner=user, name="acme")
    for text, message in ((DEEP, "nested at most"), ('{"docs": ["\\u0000"]}', "NUL")):
        response = user_client.post(f"/orgs/{org.pk}/manage/roles/", {"op": "create", "name": "x", "permissions": text})
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Role.objects.filter(org=org).exists()


def test_admin_json_fields_answer_a_form_error(staff_client, make_user):
    org = org_create(owner=make_user("olivia"), name="acme")
    url = f"/admin/orgs/organization/{org.pk}/change/"
    page = staff_client.get(url).content.decode()
    # The change form's inlines: submit none of their rows.
    data = {f"{prefix}-{key}": "0" for prefix in re.findall(r'name="([\w-]+)-TOTAL_FORMS"', page)
            for key in ("TOTAL_FORMS", "INITIAL_FORMS")}
    data.update({"name": "acme", "display_name": "", "description": "", "owner": str(org.owner_id),
                 "max_members": "", "is_active": "on"})
    for text, message in ((DEEP, "nested at most"), ('{"x": "\\u0000"}', "NUL")):
        response = staff_client.post(url, {**data, "settings": text})
        assert response.status_code == 200, response.content[:500]
        assert message in response.content.decode()
    org.refresh_from_db()
    assert org.settings == {}


def test_admin_remote_options_json_answers_a_form_error(staff_client):
    response = staff_client.post("/admin/jobs/remote/add/", {
        "name": "dav", "type": "webdav", "description": "", "options_json": DEEP})
    assert response.status_code == 200 and "nested at most" in response.content.decode()
    assert not Remote.objects.exists()


# ------------------------------------------------------------------ Host header, unknown paths, methods


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/no-such-thing", "/api/schema/"])
def test_api_answers_a_disallowed_host_in_the_error_shape(client, path):
    error = assert_api_error(client.get(path, HTTP_HOST="evil.example"))
    assert "host" in error["fields"]


def test_pages_answer_a_disallowed_host_with_html(client):
    assert_html_400(client.get("/accounts/login/", HTTP_HOST="evil.example"))


@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/", "/api/v1/rooms/not-a-uuid/", "/api/v1/orgs/x/y/z"])
def test_unknown_api_paths_are_json_404(user_client, path):
    assert_api_error(user_client.get(path), 404, "not_found")


@pytest.mark.parametrize("method, path", [("put", "/api/v1/me"), ("post", "/api/v1/unread"), ("delete", "/api/schema/"),
                                          ("post", "/api/docs/")])
def test_wrong_methods_are_json_405(user_client, method, path):
    assert_api_error(getattr(user_client, method)(path), 405, "method_not_allowed")


def test_every_json_field_of_the_admin_reads_through_safejson(rf, make_user):
    """Every registered admin and its inlines, whatever their fields: a JSON
    model field is edited through config.forms.JSONFormField."""
    from django import forms
    from django.contrib import admin

    from config.forms import JSONFormField

    request = rf.get("/admin/")
    request.user = make_user("root", is_staff=True, is_superuser=True)
    seen = []
    for model_admin in admin.site._registry.values():
        form_classes = [model_admin.get_form(request)]
        form_classes += [inline.get_formset(request).form for inline in model_admin.get_inline_instances(request)]
        for form_class in form_classes:
            for name, field in form_class.base_fields.items():
                if isinstance(field, forms.JSONField):
                    seen.append(name)
                    assert isinstance(field, JSONFormField), (model_admin, name)
    assert "settings" in seen  # the admin edits JSON somewhere (org settings, at least)
