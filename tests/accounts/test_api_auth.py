"""Register, login, /me, device sessions and lockout through the real API
(PostgreSQL and Redis, nothing mocked)."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from knox.crypto import hash_token

from accounts.models import DeviceSession, User
from accounts.services import user_ban, user_set_status
from tests.accounts.conftest import PASSWORD, assert_error, token_client

pytestmark = pytest.mark.django_db


def audit_actions(**filters):
    from audit.models import AuditLog

    return list(AuditLog.objects.filter(**filters).values_list("action", flat=True))


def test_register_then_login_then_me(api):
    response = api.post("/api/v1/auth/register", {"username": "newbie", "email": "NewBie@Example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"user"}
    created = response.json()["user"]
    assert created["username"] == "newbie" and created["email"] == "NewBie@example.com"
    assert created["profile"]["language"] == "en" and created["profile"]["timezone"] == "UTC"
    assert "password" not in created

    response = api.post("/api/v1/auth/login", {"login": "newbie@example.com", "password": PASSWORD, "device_name": "Pixel 9"}, format="json", HTTP_USER_AGENT="TeamhubAndroid/1.0")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at", "session_id", "user"}
    assert body["user"]["id"] == created["id"]

    me = token_client(body["token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "newbie"
    assert set(me.json()["profile"]) >= {"bio", "location", "website", "timezone", "language", "theme", "preferences"}

    session = DeviceSession.objects.get(pk=body["session_id"])
    # Only knox's hash of the token is stored, never the token.
    assert session.digest == hash_token(body["token"])
    assert body["token"] not in {session.digest, session.token_key}
    assert session.device_name == "Pixel 9" and session.user_agent == "TeamhubAndroid/1.0"
    assert session.ip == "127.0.0.1"
    assert "user.registered" in audit_actions(resource_id=created["id"])
    assert "auth.login" in audit_actions(resource_id=str(session.pk))


@override_settings(REGISTRATION_OPEN=False)
def test_registration_can_be_closed(api):
    response = api.post("/api/v1/auth/register", {"username": "late", "email": "late@example.com", "password": PASSWORD}, format="json")
    assert_error(response, 403, "registration_closed")
    assert not User.objects.filter(username="late").exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "ok_name", "email": "ok@example.com", "password": "123"}, "password"),
        ({"username": "bad name", "email": "ok@example.com", "password": PASSWORD}, "username"),
        ({"username": "ok_name", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "ok_name", "password": PASSWORD}, "email"),
    ],
)
def test_register_rejects_bad_input_and_writes_nothing(api, body, field):
    error = assert_error(api.post("/api/v1/auth/register", body, format="json"), 400, "validation_error")
    assert field in error["fields"]
    assert not User.objects.filter(username=body["username"]).exists()


def test_register_rejects_a_taken_username_or_email(api, make_user):
    make_user("taken", email="taken@example.com")
    error = assert_error(api.post("/api/v1/auth/register", {"username": "taken", "email": "other@example.com", "password": PASSWORD}, format="json"), 400, "validation_error")
    assert "username" in error["fields"]
    error = assert_error(api.post("/api/v1/auth/register", {"username": "other", "email": "TAKEN@example.com", "password": PASSWORD}, format="json"), 400, "validation_error")
    assert "email" in error["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2, 3]", b'"a string"', b"\xff\xfe\x00"])
def test_malformed_body_is_a_validation_error(api, raw):
    response = api.generic("POST", "/api/v1/auth/login", raw, content_type="application/json")
    assert_error(response, 400, "validation_error")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_is_a_validation_error(api):
    body = json.dumps({"username": "big", "email": "big@example.com", "password": "x" * 5000})
    response = api.generic("POST", "/api/v1/auth/register", body, content_type="application/json")
    assert_error(response, 400, "validation_error")
    assert not User.objects.filter(username="big").exists()


def test_wrong_password_and_unknown_login_give_the_same_401(api, make_user):
    make_user("alice")
    wrong = api.post("/api/v1/auth/login", {"login": "alice", "password": "wrong password"}, format="json")
    unknown = api.post("/api/v1/auth/login", {"login": "nobody", "password": "wrong password"}, format="json")
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json() == unknown.json()
    assert wrong.headers.get("WWW-Authenticate") == unknown.headers.get("WWW-Authenticate")
    # Both failures are in the audit trail, committed despite the error.
    assert audit_actions(action="auth.login.failed", result="failure").count("auth.login.failed") == 2
    assert not DeviceSession.objects.exists()


def test_banned_and_inactive_accounts_get_403_with_the_right_password(api, make_user):
    banned = make_user("banned")
    inactive = make_user("sleepy")
    User.objects.filter(pk=banned.pk).update(status="banned")
    User.objects.filter(pk=inactive.pk).update(status="inactive")
    assert_error(api.post("/api/v1/auth/login", {"login": "banned", "password": PASSWORD}, format="json"), 403, "account_banned")
    assert_error(api.post("/api/v1/auth/login", {"login": "sleepy", "password": PASSWORD}, format="json"), 403, "account_inactive")
    # With a wrong password they look like anyone else.
    assert_error(api.post("/api/v1/auth/login", {"login": "banned", "password": "nope"}, format="json"), 401, "invalid_credentials")
    assert not DeviceSession.objects.exists()


@override_settings(LOGIN_FAILURE_LIMIT_PER_LOGIN=3, LOGIN_FAILURE_LIMIT_PER_IP=100, LOGIN_FAILURE_WINDOW_SECONDS=60, LOGIN_LOCKOUT_SECONDS=3)
def test_lockout_gives_429_with_retry_after_and_ends_after_its_window(api, make_user):
    make_user("locky")
    for _ in range(3):
        assert_error(api.post("/api/v1/auth/login", {"login": "locky", "password": "bad"}, format="json"), 401, "invalid_credentials")
    locked = api.post("/api/v1/auth/login", {"login": "locky", "password": PASSWORD}, format="json")
    assert_error(locked, 429, "throttled")
    assert 1 <= int(locked.headers["Retry-After"]) <= 3
    # An unknown login locks the same way: the limit does not tell who exists.
    for _ in range(3):
        api.post("/api/v1/auth/login", {"login": "ghost", "password": "bad"}, format="json")
    ghost = api.post("/api/v1/auth/login", {"login": "ghost", "password": "bad"}, format="json")
    assert ghost.status_code == 429 and ghost.json() == locked.json()

    time.sleep(3.2)
    response = api.post("/api/v1/auth/login", {"login": "locky", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content


@override_settings(LOGIN_FAILURE_LIMIT_PER_LOGIN=100, LOGIN_FAILURE_LIMIT_PER_IP=4, LOGIN_FAILURE_WINDOW_SECONDS=60, LOGIN_LOCKOUT_SECONDS=60)
def test_failures_from_one_ip_lock_that_ip_out(api, make_user):
    make_user("victim")
    for n in range(4):
        api.post("/api/v1/auth/login", {"login": f"guess{n}", "password": "bad"}, format="json")
    assert_error(api.post("/api/v1/auth/login", {"login": "victim", "password": PASSWORD}, format="json"), 429, "throttled")
    # Another IP is not locked.
    other = api.post("/api/v1/auth/login", {"login": "victim", "password": PASSWORD}, format="json", REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 200


def test_session_list_marks_the_current_one_and_revoking_gives_401(make_user, login):
    user = make_user("multi")
    phone, phone_body = login("multi", device_name="phone")
    tablet, tablet_body = login("multi", device_name="tablet")
    client = token_client(phone)
    listing = client.get("/api/v1/auth/sessions")
    assert listing.status_code == 200
    page = listing.json()
    assert set(page) == {"results", "next"} and page["next"] is None
    by_name = {s["device_name"]: s for s in page["results"]}
    assert by_name["phone"]["current"] is True and by_name["tablet"]["current"] is False
    assert set(by_name["phone"]) >= {"id", "device_name", "ip", "user_agent", "created_at", "last_used_at", "expires_at", "current"}

    assert token_client(tablet).get("/api/v1/me").status_code == 200
    assert client.delete(f"/api/v1/auth/sessions/{tablet_body['session_id']}").status_code == 204
    assert_error(token_client(tablet).get("/api/v1/me"), 401, "not_authenticated")
    assert client.get("/api/v1/me").status_code == 200
    assert "auth.session.revoked" in audit_actions(resource_id=tablet_body["session_id"])

    assert client.post("/api/v1/auth/logout").status_code == 204
    assert_error(client.get("/api/v1/me"), 401, "not_authenticated")
    assert not DeviceSession.objects.filter(user=user).exists()


def test_logout_all_ends_every_session(make_user, login):
    make_user("everywhere")
    tokens = [login("everywhere")[0] for _ in range(3)]
    assert token_client(tokens[0]).post("/api/v1/auth/logout-all").status_code == 204
    for token in tokens:
        assert_error(token_client(token).get("/api/v1/me"), 401, "not_authenticated")


def test_a_user_cannot_see_or_revoke_another_users_session(make_user, login):
    make_user("mallory")
    make_user("bob")
    mallory, _ = login("mallory")
    bob, bob_body = login("bob")
    listing = token_client(mallory).get("/api/v1/auth/sessions").json()["results"]
    assert bob_body["session_id"] not in {s["id"] for s in listing}
    assert_error(token_client(mallory).delete(f"/api/v1/auth/sessions/{bob_body['session_id']}"), 404, "not_found")
    assert token_client(bob).get("/api/v1/me").status_code == 200


def test_expiry_slides_forward_within_the_max_lifetime(make_user, login, settings):
    make_user("slider")
    token, body = login("slider")
    session = DeviceSession.objects.get(pk=body["session_id"])
    old = timezone.now() - timedelta(hours=1)
    DeviceSession.objects.filter(pk=session.pk).update(last_used_at=old, expiry=timezone.now() + timedelta(minutes=5))
    assert token_client(token).get("/api/v1/me").status_code == 200
    session.refresh_from_db()
    assert session.last_used_at > old
    assert session.expiry > timezone.now() + timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS - 1)

    # Near the end of its lifetime the expiry stops at created + max lifetime.
    created = timezone.now() - timedelta(days=settings.AUTH_TOKEN_MAX_LIFETIME_DAYS) + timedelta(minutes=10)
    DeviceSession.objects.filter(pk=session.pk).update(created=created, last_used_at=old, expiry=timezone.now() + timedelta(minutes=1))
    assert token_client(token).get("/api/v1/me").status_code == 200
    session.refresh_from_db()
    assert session.expiry == created + timedelta(days=settings.AUTH_TOKEN_MAX_LIFETIME_DAYS)

    DeviceSession.objects.filter(pk=session.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert_error(token_client(token).get("/api/v1/me"), 401, "not_authenticated")


def test_banning_ends_tokens_at_once(make_user, login):
    admin = make_user("boss", is_staff=True)
    make_user("troll")
    token, _ = login("troll")
    assert token_client(token).get("/api/v1/me").status_code == 200
    user_ban(actor=admin, user=User.objects.get(username="troll"))
    assert_error(token_client(token).get("/api/v1/me"), 401, "not_authenticated")
    assert not DeviceSession.objects.filter(user__username="troll").exists()
    assert "user.banned" in audit_actions(action="user.banned")


def test_a_token_of_a_deactivated_user_is_refused_even_if_its_row_survives(make_user, login):
    make_user("ghosty")
    token, _ = login("ghosty")
    # Status changed behind the services' back: the token still fails.
    User.objects.filter(username="ghosty").update(status="inactive")
    assert_error(token_client(token).get("/api/v1/me"), 401, "not_authenticated")


def test_only_staff_may_ban(make_user):
    from core.errors import PermissionDenied

    user = make_user("plain")
    other = make_user("other")
    with pytest.raises(PermissionDenied):
        user_set_status(actor=user, user=other, status="banned")
    other.refresh_from_db()
    assert other.status == "active"


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token " + "x" * 64, "Token ünïcode"])
def test_bad_token_headers_give_401(api, header):
    response = api.get("/api/v1/me", HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    assert_error(response, 401, "not_authenticated")


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_api_rate_limit_per_user(make_user, login):
    make_user("busy")
    token, _ = login("busy")
    client = token_client(token)
    for _ in range(3):
        assert client.get("/api/v1/me").status_code == 200
    response = client.get("/api/v1/me")
    assert_error(response, 429, "throttled")
    assert int(response.headers["Retry-After"]) >= 1


@override_settings(API_ANON_RATE_LIMIT_PER_MINUTE=2)
def test_api_rate_limit_per_ip_for_anonymous(api):
    for _ in range(2):
        assert api.post("/api/v1/auth/login", {"login": "x", "password": "y"}, format="json").status_code == 401
    assert_error(api.post("/api/v1/auth/login", {"login": "x", "password": "y"}, format="json"), 429, "throttled")


def test_patch_me_updates_the_profile_and_audits_old_and_new(make_user, login):
    user = make_user("patcher")
    token, _ = login("patcher")
    response = token_client(token).patch("/api/v1/me", {"bio": "hi", "timezone": "Europe/Berlin", "language": "zh-hans", "preferences": {"compact": True}}, format="json")
    assert response.status_code == 200, response.content
    profile = response.json()["profile"]
    assert (profile["bio"], profile["timezone"], profile["language"], profile["preferences"]) == ("hi", "Europe/Berlin", "zh-hans", {"compact": True})
    from audit.models import AuditLog

    entry = AuditLog.objects.get(action="user.profile.updated", resource_id=str(user.pk))
    assert entry.details["timezone"] == {"old": "UTC", "new": "Europe/Berlin"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"language": "fr"}, "language"),
        ({"theme": "neon"}, "theme"),
        ({"website": "not a url"}, "website"),
        ({"preferences": ["not", "an", "object"]}, "preferences"),
        ({"bio": "x" * 1001}, "bio"),
    ],
)
def test_patch_me_rejects_bad_values_and_writes_nothing(make_user, login, body, field):
    make_user("badpatch")
    token, _ = login("badpatch")
    client = token_client(token)
    error = assert_error(client.patch("/api/v1/me", {"location": "Oslo", **body}, format="json"), 400, "validation_error")
    assert field in error["fields"], error
    assert client.get("/api/v1/me").json()["profile"]["location"] == ""


def test_expired_sessions_are_purged_by_the_housekeeping_task(make_user, login):
    from accounts.tasks import purge_expired_sessions

    make_user("purgee")
    _, old = login("purgee")
    _, fresh = login("purgee")
    DeviceSession.objects.filter(pk=old["session_id"]).update(created=timezone.now() - timedelta(days=2), expiry=timezone.now() - timedelta(seconds=1))
    assert purge_expired_sessions()["device_sessions"] == 1
    assert list(DeviceSession.objects.values_list("pk", flat=True)) == [DeviceSession.objects.get(pk=fresh["session_id"]).pk]


def test_last_active_at_is_written_at_most_once_per_interval(make_user, login):
    user = make_user("active")
    token, _ = login("active")
    client = token_client(token)
    past = timezone.now() - timedelta(days=1)
    User.objects.filter(pk=user.pk).update(last_active_at=past)
    assert client.get("/api/v1/me").status_code == 200
    first = User.objects.get(pk=user.pk).last_active_at
    assert first > past
    User.objects.filter(pk=user.pk).update(last_active_at=past)
    assert client.get("/api/v1/me").status_code == 200
    # Within the interval the Redis gate skips the write.
    assert User.objects.get(pk=user.pk).last_active_at == past


def test_the_auth_backend_takes_username_or_email_and_refuses_banned_users(client, make_user):
    user = make_user("backendy")
    assert client.login(username="backendy", password=PASSWORD)
    assert Client().login(username="BACKENDY@example.com", password=PASSWORD)
    assert not Client().login(username="backendy", password="wrong")
    User.objects.filter(pk=user.pk).update(status="banned")
    assert not Client().login(username="backendy", password=PASSWORD)
