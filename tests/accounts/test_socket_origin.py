"""The socket's origin rule (config/socket_auth.py) through the real ASGI
stack: a session cookie counts only from the socket's own full origin
(scheme, host and port) or a CSRF-trusted one, as Django's CSRF check has
it; a cookie-less client (a mobile app) may come from any origin, or none,
and authenticate with an auth frame."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from config.asgi import application
from tests.chatroom.live_helpers import cookie_header

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]

HOST = (b"host", b"localhost:8000")


async def _open(*headers):
    comm = WebsocketCommunicator(application, "/ws/", headers=list(headers))
    connected, _ = await comm.connect()
    return comm, connected


async def _cookie_socket(make_user, *headers) -> str | int:
    user = await sync_to_async(make_user)("origin-user")
    cookie = await sync_to_async(cookie_header)(user)
    comm, connected = await _open(*headers, cookie)
    assert connected  # the origin decides about the cookie, not the handshake
    # A cookie that counts gets "ready"; one that does not leaves the socket
    # waiting for an auth frame, and a ping instead closes it.
    await comm.send_json_to({"type": "ping"})
    out = await comm.receive_output(timeout=5)
    await comm.disconnect()
    return json.loads(out["text"])["type"] if out["type"] == "websocket.send" else out["code"]


async def test_the_sockets_own_origin_with_its_port_authenticates_the_cookie(make_user):
    assert await _cookie_socket(make_user, HOST, (b"origin", b"http://localhost:8000")) == "ready"


@pytest.mark.parametrize("origin", [
    b"http://localhost:8001",  # another port of the same host: the bug this guards against
    b"http://localhost",  # no port is port 80, not 8000
    b"https://localhost:8000",  # another scheme
    b"http://evil.example",
    b"null",
    b"http://localhost:8000.evil.example",
])
async def test_a_cookie_from_another_origin_is_ignored_and_the_socket_forbidden(make_user, origin):
    assert await _cookie_socket(make_user, HOST, (b"origin", origin)) == 4403


async def test_a_cookie_without_an_origin_is_ignored(make_user):
    assert await _cookie_socket(make_user, HOST) == 4403


@override_settings(CSRF_TRUSTED_ORIGINS=["https://chat.example.com", "https://*.example.org"])
@pytest.mark.parametrize("origin, expected", [
    (b"https://chat.example.com", "ready"),
    (b"https://app.example.org", "ready"),
    (b"http://chat.example.com", 4403),  # trusted as https only
    (b"https://chat.example.com:8443", 4403),
])
async def test_csrf_trusted_origins_may_use_the_cookie(make_user, origin, expected):
    assert await _cookie_socket(make_user, HOST, (b"origin", origin)) == expected


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), ALLOWED_HOSTS=["chat.example.com"])
async def test_behind_a_tls_proxy_the_origin_is_https(make_user):
    https = [(b"host", b"chat.example.com"), (b"x-forwarded-proto", b"https")]
    assert await _cookie_socket(make_user, *https, (b"origin", b"https://chat.example.com")) == "ready"


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), ALLOWED_HOSTS=["chat.example.com"])
async def test_behind_a_tls_proxy_a_plain_http_origin_is_foreign(make_user):
    https = [(b"host", b"chat.example.com"), (b"x-forwarded-proto", b"https")]
    assert await _cookie_socket(make_user, *https, (b"origin", b"http://chat.example.com")) == 4403


async def test_a_disallowed_host_is_refused_at_the_handshake(make_user):
    user = await sync_to_async(make_user)("wrong-host")
    cookie = await sync_to_async(cookie_header)(user)
    comm, connected = await _open((b"host", b"evil.example"), (b"origin", b"http://evil.example"), cookie)
    assert not connected
    await comm.disconnect()


def _token(make_user, username):
    from accounts.services import api_login

    user = make_user(username)
    return user, api_login(user=user, device_name="phone")[1]


@pytest.mark.parametrize("origin", [None, b"http://evil.example", b"http://localhost:8001"])
async def test_a_cookie_less_client_authenticates_by_frame_from_any_origin_or_none(make_user, origin):
    user, token = await sync_to_async(_token)(make_user, "mobile")
    comm, connected = await _open(HOST, *([(b"origin", origin)] if origin else []))
    assert connected
    await comm.send_json_to({"type": "auth", "token": token})
    ready = await comm.receive_json_from(timeout=5)
    assert ready["type"] == "ready" and ready["user"]["id"] == str(user.id)
    await comm.disconnect()


async def test_a_refused_cookie_does_not_stop_an_auth_frame(make_user):
    """A page elsewhere that holds a token (not the cookie) still gets in,
    as that token's user."""
    cookie_user = await sync_to_async(make_user)("cookie-owner")
    cookie = await sync_to_async(cookie_header)(cookie_user)
    token_user, token = await sync_to_async(_token)(make_user, "token-owner")
    comm, connected = await _open(HOST, (b"origin", b"http://localhost:8001"), cookie)
    assert connected
    await comm.send_json_to({"type": "auth", "token": token})
    ready = await comm.receive_json_from(timeout=5)
    assert ready["type"] == "ready" and ready["user"]["id"] == str(token_user.id)
    await comm.disconnect()
