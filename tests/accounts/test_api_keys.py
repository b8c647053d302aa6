"""API keys: shown once, hashed, scoped, rate limited, revocable."""

import hashlib
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.services import api_key_create, user_ban
from tests.accounts.conftest import assert_error, key_client, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_token(make_user, login):
    make_user("keyowner")
    return login("keyowner")[0]


def create_key(token, **body):
    body.setdefault("name", "ci")
    body.setdefault("scopes", ["chat:read"])
    return token_client(token).post("/api/v1/api-keys", body, format="json")


def test_key_is_shown_once_and_only_its_hash_is_stored(owner_token):
    response = create_key(owner_token, name="deploy bot", scopes=["chat:read", "jobs:write"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"id", "key", "prefix", "name", "scopes", "expires_at"}
    assert body["key"].startswith(body["prefix"])
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in {stored.key_hash, stored.prefix}

    listing = token_client(owner_token).get("/api/v1/api-keys").json()
    assert listing["next"] is None and len(listing["results"]) == 1
    assert "key" not in listing["results"][0]
    assert body["key"] not in str(listing)

    from audit.models import AuditLog

    entry = AuditLog.objects.get(action="auth.apikey.created", resource_id=body["id"])
    assert body["key"] not in str(entry.details)


def test_key_authenticates_counts_uses_and_is_revocable(owner_token):
    body = create_key(owner_token).json()
    client = key_client(body["key"])
    assert client.get("/api/v1/me").json()["username"] == "keyowner"
    assert client.get("/api/v1/me").status_code == 200
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.usage_count == 2 and stored.last_used_at is not None

    assert token_client(owner_token).delete(f"/api/v1/api-keys/{body['id']}").status_code == 204
    assert_error(client.get("/api/v1/me"), 401, "not_authenticated")
    stored.refresh_from_db()
    assert not stored.is_active and stored.revoked_at is not None

    from audit.models import AuditLog

    assert AuditLog.objects.filter(action="auth.apikey.revoked", resource_id=body["id"]).exists()


def test_expired_key_is_refused(make_user):
    user = make_user("expiring")
    api_key, secret = api_key_create(user=user, name="short", scopes=["chat:read"], expires_at=timezone.now() + timedelta(minutes=1))
    assert key_client(secret).get("/api/v1/me").status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(key_client(secret).get("/api/v1/me"), 401, "not_authenticated")


@pytest.mark.urls("tests.accounts.scope_urls")
def test_a_read_key_gets_403_on_a_write(owner_token):
    read_key = create_key(owner_token, name="reader", scopes=["chat:read"]).json()["key"]
    write_key = create_key(owner_token, name="writer", scopes=["chat:write"]).json()["key"]
    assert key_client(read_key).get("/api/v1/test-probe").status_code == 200
    assert_error(key_client(read_key).post("/api/v1/test-probe", {}, format="json"), 403, "permission_denied")
    assert key_client(write_key).post("/api/v1/test-probe", {}, format="json").status_code == 201
    assert_error(key_client(write_key).get("/api/v1/test-probe"), 403, "permission_denied")
    # A device token is not limited by scopes.
    assert token_client(owner_token).post("/api/v1/test-probe", {}, format="json").status_code == 201


def test_a_key_cannot_manage_the_account(owner_token):
    """Views without a declared scope are closed to keys: a key cannot mint
    keys, change the profile or end sessions."""
    key = create_key(owner_token, scopes=list(("chat:read", "chat:write", "orgs:write", "audit:read"))).json()["key"]
    client = key_client(key)
    assert_error(create_key_with(client), 403, "permission_denied")
    assert_error(client.patch("/api/v1/me", {"bio": "pwned"}, format="json"), 403, "permission_denied")
    assert_error(client.post("/api/v1/auth/logout-all"), 403, "permission_denied")
    assert_error(client.get("/api/v1/auth/sessions"), 403, "permission_denied")
    assert ApiKey.objects.count() == 1


def create_key_with(client):
    return client.post("/api/v1/api-keys", {"name": "child", "scopes": ["chat:read"]}, format="json")


def test_a_banned_owners_key_is_refused(make_user):
    admin = make_user("keyadmin", is_staff=True)
    user = make_user("keyban")
    _, secret = api_key_create(user=user, name="k", scopes=["chat:read"])
    assert key_client(secret).get("/api/v1/me").status_code == 200
    user_ban(actor=admin, user=user)
    assert_error(key_client(secret).get("/api/v1/me"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "", "scopes": ["chat:read"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "scopes": "chat:read"}, "scopes"),
        ({"name": "x", "scopes": ["chat:read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scopes": ["chat:read"], "expires_at": "soon"}, "expires_at"),
        ({"name": "x", "scopes": ["chat:read"], "rate_limit_per_minute": 0}, "rate_limit_per_minute"),
    ],
)
def test_bad_key_requests_are_rejected_and_nothing_is_written(owner_token, body, field):
    error = assert_error(token_client(owner_token).post("/api/v1/api-keys", body, format="json"), 400, "validation_error")
    assert any(name.startswith(field) for name in error["fields"]), error
    assert not ApiKey.objects.exists()


def test_a_user_cannot_revoke_another_users_key(make_user, login, owner_token):
    key_id = create_key(owner_token).json()["id"]
    make_user("intruder")
    intruder, _ = login("intruder")
    assert_error(token_client(intruder).delete(f"/api/v1/api-keys/{key_id}"), 404, "not_found")
    assert ApiKey.objects.get(pk=key_id).is_active
    assert token_client(intruder).get("/api/v1/api-keys").json()["results"] == []


def test_per_key_rate_limit(owner_token):
    body = create_key(owner_token, rate_limit_per_minute=2).json()
    client = key_client(body["key"])
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    response = client.get("/api/v1/me")
    assert_error(response, 429, "throttled")
    assert int(response.headers["Retry-After"]) >= 1
    # The owner's own token is counted separately, within the user limit.
    assert token_client(owner_token).get("/api/v1/me").status_code == 200


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_many_keys_do_not_multiply_the_owners_limit(owner_token):
    # Creating two keys spends 2 of the user's 3 requests.
    keys = [create_key(owner_token, name=f"k{n}", rate_limit_per_minute=100).json()["key"] for n in range(2)]
    assert key_client(keys[0]).get("/api/v1/me").status_code == 200
    assert_error(key_client(keys[1]).get("/api/v1/me"), 429, "throttled")


def test_pagination_of_keys(make_user):
    user = make_user("many")
    for n in range(5):
        api_key_create(user=user, name=f"key{n}", scopes=["chat:read"])
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=User.objects.get(pk=user.pk))
    first = client.get("/api/v1/api-keys?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    assert "http" not in first["next"]
    seen = [k["name"] for k in first["results"]]
    cursor = first["next"]
    while cursor:
        page = client.get("/api/v1/api-keys", {"limit": 2, "cursor": cursor}).json()
        seen += [k["name"] for k in page["results"]]
        cursor = page["next"]
    assert sorted(seen) == [f"key{n}" for n in range(5)]
    assert client.get("/api/v1/api-keys?limit=1000").status_code == 200
