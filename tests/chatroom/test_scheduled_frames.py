"""Send later on the socket (issue 18): scheduled.create, .list, .update and
.cancel answer with the same objects as the API, push scheduled.updated to
the author's sockets, and refuse with error frames."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chatroom.models import ScheduledMessage
from tests.chatroom.live_helpers import connect, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


def soon(**delta):
    return (timezone.now() + timedelta(**delta)).isoformat()


async def test_schedule_list_edit_cancel_over_the_socket(make_room, make_user, member_of):
    alice = await sync_to_async(make_user)("alice")
    room = await sync_to_async(make_room)(owner=alice, name="sock-later")
    comm, _ = await connect(alice)
    try:
        await comm.send_json_to({"type": "scheduled.create", "room_id": str(room.id), "content": "from the socket",
                                 "send_at": soon(hours=2)})
        answer = await until(comm, "scheduled.message")
        scheduled = answer["scheduled"]
        assert scheduled["status"] == "scheduled" and scheduled["content"] == "from the socket"
        pushed = await until(comm, "scheduled.updated")
        assert pushed["scheduled"]["id"] == scheduled["id"]

        await comm.send_json_to({"type": "scheduled.list"})
        listed = await until(comm, "scheduled.list")
        assert [s["id"] for s in listed["results"]] == [scheduled["id"]]

        await comm.send_json_to({"type": "scheduled.update", "id": scheduled["id"], "content": "edited"})
        assert (await until(comm, "scheduled.message"))["scheduled"]["content"] == "edited"

        await comm.send_json_to({"type": "scheduled.update", "id": scheduled["id"], "send_at": soon(days=400)})
        error = await until(comm, "error")
        assert error["code"] == "validation_error"

        await comm.send_json_to({"type": "scheduled.cancel", "id": scheduled["id"]})
        assert (await until(comm, "scheduled.message"))["scheduled"]["status"] == "cancelled"
        await comm.send_json_to({"type": "scheduled.update", "id": scheduled["id"], "content": "too late"})
        assert (await until(comm, "error"))["code"] == "conflict"

        await comm.send_json_to({"type": "scheduled.list", "status": "scheduled"})
        assert (await until(comm, "scheduled.list"))["results"] == []
    finally:
        await comm.disconnect()
    row = await sync_to_async(ScheduledMessage.objects.get)(id=scheduled["id"])
    assert row.status == "cancelled" and row.content == "edited"


async def test_socket_refusals(make_room, make_user):
    alice = await sync_to_async(make_user)("alice")
    mallory = await sync_to_async(make_user)("mallory")
    room = await sync_to_async(make_room)(owner=alice, name="sock-refuse")
    comm, _ = await connect(mallory)
    try:
        await comm.send_json_to({"type": "scheduled.create", "room_id": str(room.id), "content": "x",
                                 "send_at": soon(hours=1)})
        assert (await until(comm, "error"))["code"] == "permission_denied"
        await comm.send_json_to({"type": "scheduled.create", "room_id": str(room.id), "content": "x",
                                 "send_at": "not a time"})
        assert (await until(comm, "error"))["code"] == "validation_error"
        theirs = await sync_to_async(ScheduledMessage.objects.create)(
            author=alice, room=room, content="alice's", send_at=timezone.now() + timedelta(hours=1))
        await comm.send_json_to({"type": "scheduled.cancel", "id": str(theirs.id)})
        assert (await until(comm, "error"))["code"] == "not_found"
    finally:
        await comm.disconnect()
    assert await sync_to_async(ScheduledMessage.objects.filter(status="scheduled").count)() == 1
