"""Marking a room read when its newest message was deleted: up to the deleted
message or to the newest visible one, on every face (the service, the API,
the socket's read frame, the room page's script), with unread counts right."""

import tempfile

import pytest
from asgiref.sync import sync_to_async

from chatroom import selectors, services
from chatroom.models import RoomMember
from tests.browser import ARGS, CHROMIUM, require_chromium
from tests.chatroom.live_helpers import connect, until


# GET /unread's counts over followed threads (none in these tests).
NO_THREADS = {"unread": 0, "mentions": 0}

@pytest.fixture
def deleted_newest(make_room, member_of):
    """A room whose newest message was deleted: (room, reader, [visible..., deleted])."""
    room = make_room()
    reader, poster = member_of(room), member_of(room)
    messages = [services.message_post(actor=poster, room=room, content=f"message {i}") for i in range(3)]
    services.message_delete(actor=poster, message_id=messages[-1].id)
    return room, reader, messages


def _cursor(room, user):
    return str(RoomMember.objects.get(room=room, user=user).last_read_message_id)


@pytest.mark.django_db
def test_the_api_marks_read_up_to_a_deleted_message(deleted_newest, api_as, django_capture_on_commit_callbacks):
    room, reader, messages = deleted_newest
    assert selectors.unread_counts(user=reader)["total"] == 2  # the deleted one never counts
    response = api_as(reader).post(f"/api/v1/rooms/{room.id}/read", {"message_id": str(messages[-1].id)},
                                   format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"room_id": str(room.id), "message_id": str(messages[-1].id)}
    assert _cursor(room, reader) == str(messages[-1].id)
    assert selectors.unread_counts(user=reader) == {"total": 0, "capped": False, "rooms": [], "threads": NO_THREADS}
    # A newer message after it counts again, and marking read still only moves forward.
    with django_capture_on_commit_callbacks(execute=True):  # the unread cache follows commits
        later = services.message_post(actor=messages[0].user, room=room, content="after the delete")
    assert selectors.unread_counts(user=reader)["total"] == 1
    api_as(reader).post(f"/api/v1/rooms/{room.id}/read", {"message_id": str(messages[0].id)}, format="json")
    assert _cursor(room, reader) == str(messages[-1].id)
    api_as(reader).post(f"/api/v1/rooms/{room.id}/read", {"message_id": str(later.id)}, format="json")
    assert selectors.unread_counts(user=reader)["total"] == 0


@pytest.mark.django_db
def test_marking_read_up_to_the_newest_visible_message_counts_nothing_unread(deleted_newest, api_as):
    room, reader, messages = deleted_newest
    response = api_as(reader).post(f"/api/v1/rooms/{room.id}/read", {"message_id": str(messages[-2].id)},
                                   format="json")
    assert response.status_code == 200
    assert selectors.unread_counts(user=reader) == {"total": 0, "capped": False, "rooms": [], "threads": NO_THREADS}


@pytest.mark.django_db
def test_marking_read_still_refuses_what_is_not_a_message_of_this_room(deleted_newest, make_room, make_user, api_as):
    room, reader, messages = deleted_newest
    other_room = make_room()
    elsewhere = services.message_post(actor=other_room.owner, room=other_room, content="not here")
    client = api_as(reader)
    for bad in (str(elsewhere.id), "00000000-0000-0000-0000-000000000000"):
        response = client.post(f"/api/v1/rooms/{room.id}/read", {"message_id": bad}, format="json")
        assert response.status_code == 400 and "message_id" in response.json()["error"]["fields"]
    response = api_as(make_user()).post(f"/api/v1/rooms/{room.id}/read", {"message_id": str(messages[-1].id)},
                                        format="json")
    assert response.status_code == 403
    assert RoomMember.objects.get(room=room, user=reader).last_read_message_id is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_the_socket_read_frame_marks_read_up_to_a_deleted_message(make_room, member_of):
    room = await sync_to_async(make_room)()
    reader, poster = await sync_to_async(member_of)(room), await sync_to_async(member_of)(room)
    kept = await sync_to_async(services.message_post)(actor=poster, room=room, content="kept")
    gone = await sync_to_async(services.message_post)(actor=poster, room=room, content="gone")
    await sync_to_async(services.message_delete)(actor=poster, message_id=gone.id)
    socket, _ = await connect(reader)
    await socket.send_json_to({"type": "read", "room_id": str(room.id), "message_id": str(gone.id)})
    read = await until(socket, "read")
    assert read == {"type": "read", "room_id": str(room.id), "user_id": str(reader.id), "message_id": str(gone.id)}
    assert await sync_to_async(_cursor)(room, reader) == str(gone.id)
    assert (await sync_to_async(selectors.unread_counts)(user=reader))["total"] == 0
    # A message of no room of this one is still an error frame, and the socket stays up.
    await socket.send_json_to({"type": "read", "room_id": str(room.id), "message_id": "not-a-uuid"})
    assert (await until(socket, "error"))["code"] == "validation_error"
    await socket.send_json_to({"type": "read", "room_id": str(room.id), "message_id": str(kept.id)})
    await socket.send_json_to({"type": "ping"})
    assert (await until(socket, "pong"))["type"] == "pong"
    await socket.disconnect()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewer", ["moderator", "member"])
def test_the_room_page_marks_read_when_its_newest_message_was_deleted(live_server, make_room, member_of, viewer):
    """A moderator's page shows the deleted message's placeholder last and
    marks read up to it; a member's page marks read up to the newest visible
    one. Either way the call succeeds and nothing stays unread."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    from tests.browser import session_for

    room = make_room()
    user, poster = member_of(room, viewer), member_of(room)
    kept = services.message_post(actor=poster, room=room, content="still here")
    gone = services.message_post(actor=poster, room=room, content="regretted")
    services.message_delete(actor=poster, message_id=gone.id)
    expected = gone if viewer == "moderator" else kept

    base, session = live_server.url, session_for(user)
    with tempfile.TemporaryDirectory(prefix="teamhub-read-chromium-") as profile_dir, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile_dir, executable_path=CHROMIUM, headless=True,
                                                       args=ARGS)
        try:
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            with page.expect_response(lambda r: r.url.endswith(f"/rooms/{room.id}/read")) as marked:
                page.goto(f"{base}/chat/rooms/{room.id}/")
            assert marked.value.status == 200, marked.value.text()
            assert marked.value.json()["message_id"] == str(expected.id)
        finally:
            context.close()
    assert _cursor(room, user) == str(expected.id)
    assert selectors.unread_counts(user=user) == {"total": 0, "capped": False, "rooms": [], "threads": NO_THREADS}
