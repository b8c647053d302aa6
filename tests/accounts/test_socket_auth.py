"""The socket's auth frame for clients without a session cookie."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from accounts.services import session_revoke, user_ban
from config.asgi import application
from tests.chatroom.live_helpers import HOST, ORIGIN, assert_closed_unauthenticated

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


async def _connect():
    comm = WebsocketCommunicator(application, "/ws/", headers=[HOST, ORIGIN])
    connected, _ = await comm.connect()
    assert connected
    return comm


def _login(make_user, username):
    from accounts.models import DeviceSession
    from accounts.services import api_login

    user = make_user(username)
    session, token = api_login(user=user, device_name="phone")
    return user, DeviceSession.objects.get(pk=session.pk), token


async def test_a_token_in_the_first_frame_authenticates(make_user):
    user, _, token = await sync_to_async(_login)(make_user, "wsok")
    comm = await _connect()
    await comm.send_json_to({"type": "auth", "token": token})
    ready = await comm.receive_json_from(timeout=5)
    assert ready["type"] == "ready" and ready["user"]["id"] == str(user.id)
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.parametrize("frame", [{"type": "auth", "token": "not-a-real-token-at-all"}, {"type": "auth"}, {"type": "ping"}])
async def test_bad_auth_frames_close_with_4401(frame):
    comm = await _connect()
    await comm.send_json_to(frame)
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def test_revoked_and_banned_tokens_close_with_4401(make_user):
    admin = await sync_to_async(make_user)("wsadmin", is_staff=True)
    user, session, token = await sync_to_async(_login)(make_user, "wsrevoked")
    await sync_to_async(session_revoke)(actor=user, session=session)
    comm = await _connect()
    await comm.send_json_to({"type": "auth", "token": token})
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()

    user2, _, token2 = await sync_to_async(_login)(make_user, "wsbanned")
    await sync_to_async(user_ban)(actor=admin, user=user2)
    comm = await _connect()
    await comm.send_json_to({"type": "auth", "token": token2})
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def test_a_banned_users_token_row_that_survived_is_still_refused(make_user):
    from accounts.models import User

    user, _, token = await sync_to_async(_login)(make_user, "wsstale")
    await sync_to_async(User.objects.filter(pk=user.pk).update)(status="banned")
    comm = await _connect()
    await comm.send_json_to({"type": "auth", "token": token})
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


@override_settings(WS_AUTH_TIMEOUT_SECONDS=1)
async def test_silence_closes_with_4408():
    comm = await _connect()
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4408}
    await comm.disconnect()


async def test_a_banned_users_cookie_is_refused(make_user):
    from django.conf import settings
    from django.test import Client

    from accounts.models import User

    def cookie_for(user):
        client = Client()
        client.force_login(user)
        User.objects.filter(pk=user.pk).update(status="banned")
        return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())

    user = await sync_to_async(make_user)("wscookie")
    cookie = await sync_to_async(cookie_for)(user)
    # Not a session user any more: without an auth frame it gets nothing but a close.
    await assert_closed_unauthenticated(cookie)


async def _closed_code(comm, timeout=5.0):
    """Read past live frames until the socket is closed; its close code."""
    while True:
        out = await comm.receive_output(timeout=timeout)
        if out["type"] == "websocket.close":
            return out["code"]


async def test_revoking_a_token_closes_its_open_socket_and_leaves_others(make_user):
    from tests.chatroom.live_helpers import next_frame

    user, session, token = await sync_to_async(_login)(make_user, "wslive")
    other_session, other_token = await sync_to_async(_login_again)(user)
    revoked, kept = await _connect(), await _connect()
    for comm, t in ((revoked, token), (kept, other_token)):
        await comm.send_json_to({"type": "auth", "token": t})
        assert (await comm.receive_json_from(timeout=5))["type"] == "ready"

    await sync_to_async(session_revoke)(actor=user, session=session)
    assert await _closed_code(revoked) == 4401
    await kept.send_json_to({"type": "ping"})
    assert await next_frame(kept) == {"type": "pong"}

    await sync_to_async(session_revoke)(actor=user, session=other_session)
    assert await _closed_code(kept) == 4401
    await revoked.disconnect()
    await kept.disconnect()


async def test_signing_out_a_browser_session_closes_its_socket(make_user):
    from accounts.models import DeviceSession
    from accounts.services import sessions_revoke_all
    from tests.chatroom.live_helpers import connect

    user = await sync_to_async(make_user)("wsweb")
    comm, _ = await connect(user)
    assert await sync_to_async(DeviceSession.objects.filter(user=user, kind="web").exists)()
    await sync_to_async(sessions_revoke_all)(actor=user, user=user)
    assert await _closed_code(comm) == 4401
    await comm.disconnect()


def _login_again(user):
    from accounts.models import DeviceSession
    from accounts.services import api_login

    session, token = api_login(user=user, device_name="tablet")
    return DeviceSession.objects.get(pk=session.pk), token
