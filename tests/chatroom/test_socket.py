"""The /ws/ socket through the real ASGI stack (origin check, session auth)."""

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.chatroom.live_helpers import HOST, ORIGIN, assert_closed_unauthenticated
from tests.chatroom.live_helpers import cookie_header as _cookie_header

pytestmark = pytest.mark.usefixtures("close_async_db_connections")


@pytest.mark.django_db(transaction=True)
async def test_anonymous_socket_is_closed_with_4401():
    comm = WebsocketCommunicator(application, "/ws/", headers=[HOST, ORIGIN])
    connected, _ = await comm.connect()
    assert connected
    # Without a session cookie the first frame must be an auth frame (api.md).
    await comm.send_json_to({"type": "ping"})
    out = await comm.receive_output(timeout=5)
    assert out == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_session_user_gets_ready_and_pong_and_error_frames(make_user):
    from asgiref.sync import sync_to_async

    user = await sync_to_async(make_user)("sock2")
    cookie = await sync_to_async(_cookie_header)(user)
    comm = WebsocketCommunicator(application, "/ws/", headers=[HOST, ORIGIN, cookie])
    connected, _ = await comm.connect()
    assert connected
    ready = await comm.receive_json_from(timeout=5)
    assert ready["type"] == "ready" and ready["user"]["username"] == "sock2"

    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong"}

    await comm.send_to(text_data="{not json")
    err = await comm.receive_json_from(timeout=5)
    assert err["type"] == "error" and err["code"] == "validation_error"

    await comm.send_json_to({"type": "no.such.frame"})
    err = await comm.receive_json_from(timeout=5)
    assert err["type"] == "error" and err["code"] == "unknown_type"

    await comm.send_json_to(["not", "an", "object"])
    err = await comm.receive_json_from(timeout=5)
    assert err["code"] == "validation_error"

    # The socket survives bad frames.
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_session_from_before_a_password_change_is_anonymous_on_the_socket(make_user):
    from asgiref.sync import sync_to_async

    user = await sync_to_async(make_user)("sock3", password="first-password-1")
    cookie = await sync_to_async(_cookie_header)(user)

    def change_password():
        user.set_password("second-password-2")
        user.save(update_fields=["password"])

    await sync_to_async(change_password)()
    # The session's auth hash no longer matches.
    await assert_closed_unauthenticated(cookie)
