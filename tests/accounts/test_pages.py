"""The account pages through Django's test client: sign up, log in (username
or email), lockout in words, password change and reset by email, profile,
My devices, and the admin's actions."""

import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from accounts.models import DeviceSession, Profile, User
from tests.accounts.conftest import PASSWORD, token_client

pytestmark = pytest.mark.django_db


def page_login(client, login, password=PASSWORD):
    return client.post("/accounts/login/", {"username": login, "password": password})


def test_sign_up_creates_the_account_and_logs_in(client):
    response = client.post("/accounts/signup/", {"username": "pagey", "email": "pagey@example.com", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(username="pagey")
    assert Profile.objects.filter(user=user).exists()
    # Logged in, and this browser is one of the devices.
    assert client.get("/accounts/profile/").status_code == 200
    assert DeviceSession.objects.filter(user=user, kind="web").count() == 1


def test_sign_up_shows_errors_and_writes_nothing(client, make_user):
    make_user("dup")
    response = client.post("/accounts/signup/", {"username": "dup", "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    response = client.post("/accounts/signup/", {"username": "weak", "email": "weak@example.com", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="weak").exists()


@override_settings(REGISTRATION_OPEN=False)
def test_sign_up_page_is_closed_by_the_setting(client):
    assert client.get("/accounts/signup/").status_code == 403
    response = client.post("/accounts/signup/", {"username": "nope", "email": "nope@example.com", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 403
    assert not User.objects.filter(username="nope").exists()
    assert "Sign up" not in client.get("/accounts/login/").content.decode()


@pytest.mark.parametrize("login", ["webby", "WEBBY@example.com"])
def test_login_by_username_or_email(client, make_user, login):
    make_user("webby")
    response = page_login(client, login)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get("/").status_code == 200


def test_login_failure_and_banned_user(client, make_user):
    make_user("bannedweb")
    wrong = page_login(client, "bannedweb", "wrong")
    unknown = page_login(client, "nobody-here", "wrong")
    assert "The login or password is wrong." in wrong.content.decode()
    assert "The login or password is wrong." in unknown.content.decode()
    User.objects.filter(username="bannedweb").update(status="banned")
    response = page_login(client, "bannedweb")
    assert response.status_code == 200
    assert "This account is banned." in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT_PER_LOGIN=2, LOGIN_FAILURE_WINDOW_SECONDS=60, LOGIN_LOCKOUT_SECONDS=600)
def test_lockout_is_said_in_words_on_the_page(client, make_user):
    make_user("lockweb")
    page_login(client, "lockweb", "bad")
    page_login(client, "lockweb", "bad")
    response = page_login(client, "lockweb")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Too many failed logins. Try again in 10 minutes." in text


def test_logout_ends_the_device_session(client, make_user):
    user = make_user("leaver")
    page_login(client, "leaver")
    assert DeviceSession.objects.filter(user=user).count() == 1
    client.post("/accounts/logout/")
    assert not DeviceSession.objects.filter(user=user).exists()
    assert client.get("/accounts/profile/").status_code == 302


def test_profile_edit(client, make_user):
    user = make_user("editor")
    client.force_login(user)
    response = client.post("/accounts/profile/", {"bio": "<b>hi</b>", "location": "Seoul", "website": "https://example.com", "timezone": "Asia/Seoul", "language": "ko", "theme": "dark"})
    assert response.status_code == 302
    profile = Profile.objects.get(user=user)
    assert (profile.location, profile.timezone, profile.language, profile.theme) == ("Seoul", "Asia/Seoul", "ko", "dark")
    # Output is escaped.
    assert "&lt;b&gt;hi&lt;/b&gt;" in client.get("/accounts/profile/").content.decode()

    response = client.post("/accounts/profile/", {"bio": "", "location": "", "website": "", "timezone": "Mars/Olympus", "language": "ko", "theme": "dark"})
    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.timezone == "Asia/Seoul"

    from audit.models import AuditLog

    entry = AuditLog.objects.get(action="user.profile.updated", resource_id=str(user.pk))
    assert entry.details["timezone"] == {"old": "UTC", "new": "Asia/Seoul"}


def test_my_devices_lists_web_and_api_sessions_and_revokes(client, make_user, login):
    user = make_user("devicey")
    page_login(client, "devicey")
    token, body = login("devicey", device_name="Work phone")
    page = client.get("/accounts/devices/").content.decode()
    assert "Work phone" in page and "this device" in page
    response = client.post(f"/accounts/devices/{body['session_id']}/revoke/")
    assert response.status_code == 302
    assert token_client(token).get("/api/v1/me").status_code == 401
    assert "Work phone" not in client.get("/accounts/devices/").content.decode()

    # Another browser, then "sign out all other devices".
    other = Client()
    page_login(other, "devicey")
    assert other.get("/accounts/profile/").status_code == 200
    client.post("/accounts/devices/revoke-others/")
    assert other.get("/accounts/profile/").status_code == 302  # back to login
    assert client.get("/accounts/profile/").status_code == 200
    assert DeviceSession.objects.filter(user=user).count() == 1


def test_revoking_another_browser_logs_it_out_at_once(make_user):
    make_user("twobrowsers")
    first, second = Client(), Client()
    page_login(first, "twobrowsers")
    page_login(second, "twobrowsers")
    second_row = DeviceSession.objects.get(session_key=second.session.session_key)
    first.post(f"/accounts/devices/{second_row.pk}/revoke/")
    assert second.get("/accounts/profile/").status_code == 302
    assert first.get("/accounts/profile/").status_code == 200


def test_cannot_revoke_someone_elses_device(client, make_user, login):
    make_user("owner1")
    make_user("attacker")
    _, body = login("owner1")
    page_login(client, "attacker")
    assert client.post(f"/accounts/devices/{body['session_id']}/revoke/").status_code == 404
    assert DeviceSession.objects.filter(pk=body["session_id"]).exists()


def test_password_change_keeps_this_browser_and_ends_the_others(client, make_user, login):
    user = make_user("changer")
    page_login(client, "changer")
    token, _ = login("changer")
    new = "a brand new passphrase 42"
    response = client.post("/accounts/password/change/", {"old_password": "wrong", "new_password1": new, "new_password2": new})
    assert "The current password is wrong." in response.content.decode()
    response = client.post("/accounts/password/change/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert client.get("/accounts/profile/").status_code == 200
    assert token_client(token).get("/api/v1/me").status_code == 401
    # The row follows the rotated session key, so revoking it still works.
    row = DeviceSession.objects.get(user=user)
    assert row.session_key == client.session.session_key

    from audit.models import AuditLog

    assert AuditLog.objects.filter(action="auth.password.changed", resource_id=str(user.pk)).exists()


def test_password_reset_end_to_end_by_email(client, make_user, login):
    user = make_user("forgetful", email="Forgetful@Example.com")
    token, _ = login("forgetful")
    response = client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["Forgetful@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^\s]+/)", message.body).group(1)

    # An unknown address sends nothing, and the page says the same thing.
    assert client.post("/accounts/password/reset/", {"email": "nobody@example.com"}).status_code == 302
    assert len(mail.outbox) == 1

    response = client.get(link, follow=True)
    assert response.status_code == 200 and "Choose a new password" in response.content.decode()
    new = "reset passphrase for real 7"
    response = client.post(response.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    # Every session ended; the old link no longer works.
    assert token_client(token).get("/api/v1/me").status_code == 401
    assert "does not work" in Client().get(link, follow=True).content.decode()
    assert page_login(Client(), "forgetful", new).status_code == 302

    from audit.models import AuditLog

    entry = AuditLog.objects.get(action="auth.password.reset", resource_id=str(user.pk))
    assert new not in str(entry.details)


@override_settings(PASSWORD_RESET_MAILS_PER_EMAIL=2, PASSWORD_RESET_MAILS_PER_IP=3)
def test_password_reset_mails_are_limited_per_address_and_per_ip(client, make_user):
    """The limits are the settings'; past them the page answers the same and sends nothing."""
    make_user("often", email="often@example.com")
    make_user("other", email="other@example.com")
    for _ in range(3):  # the address is counted however it is spelled
        assert client.post("/accounts/password/reset/", {"email": " Often@Example.com"}).status_code == 302
    assert len(mail.outbox) == 2
    client.post("/accounts/password/reset/", {"email": "other@example.com"})  # this IP's 4th request
    assert len(mail.outbox) == 2


@override_settings(PASSWORD_RESET_TIMEOUT=1)
def test_password_reset_links_expire(client, make_user):
    import time

    make_user("slowpoke")
    client.post("/accounts/password/reset/", {"email": "slowpoke@example.com"})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^\s]+/)", mail.outbox[0].body).group(1)
    time.sleep(2.1)
    assert "does not work" in client.get(link, follow=True).content.decode()


def test_banning_ends_browser_sessions(client, make_user):
    from accounts.services import user_ban

    admin = make_user("banner", is_staff=True)
    user = make_user("victimweb")
    page_login(client, "victimweb")
    assert client.get("/accounts/profile/").status_code == 200
    user_ban(actor=admin, user=user)
    assert client.get("/accounts/profile/").status_code == 302
    assert not DeviceSession.objects.filter(user=user).exists()


def test_admin_actions_ban_unban_and_revoke(client, make_user, login):
    admin = make_user("staffer", is_staff=True, is_superuser=True)
    target = make_user("target")
    token, _ = login("target")
    assert page_login(client, "staffer").status_code == 302
    changelist = client.get("/admin/accounts/user/?q=targ")
    assert changelist.status_code == 200 and "target" in changelist.content.decode()
    assert client.get("/admin/accounts/user/?status__exact=banned").status_code == 200

    client.post("/admin/accounts/user/", {"action": "ban", "_selected_action": [str(target.pk)]})
    target.refresh_from_db()
    assert target.status == "banned"
    assert token_client(token).get("/api/v1/me").status_code == 401
    client.post("/admin/accounts/user/", {"action": "unban", "_selected_action": [str(target.pk)]})
    target.refresh_from_db()
    assert target.status == "active"

    token, body = login("target")
    sessions_page = client.get("/admin/accounts/devicesession/").content.decode()
    row = DeviceSession.objects.get(pk=body["session_id"])
    assert row.digest not in sessions_page and token not in sessions_page
    client.post("/admin/accounts/devicesession/", {"action": "revoke", "_selected_action": [str(row.pk)]})
    assert token_client(token).get("/api/v1/me").status_code == 401

    from audit.models import AuditLog

    assert AuditLog.objects.filter(action="user.banned", actor=admin).exists()
    assert AuditLog.objects.filter(action="user.unbanned", actor=admin).exists()


def test_admin_login_refuses_non_staff_and_uses_the_lockout(client, make_user):
    make_user("civilian")
    response = client.post("/admin/login/?next=/admin/", {"username": "civilian", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_are_limited_per_address(client, make_user):
    make_user("bombed")
    for _ in range(5):
        assert client.post("/accounts/password/reset/", {"email": "bombed@example.com"}).status_code == 302
    assert len(mail.outbox) == 3
