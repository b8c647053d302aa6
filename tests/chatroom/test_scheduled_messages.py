"""Send later over the API and the sender (issue 18): scheduling, listing,
editing and cancelling with their refusals, and the due-scan posting each
message once through the normal path, or failing it with the reason and a
notification when the author may no longer post."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Notification
from audit.models import AuditLog
from chatroom import services
from chatroom.models import Message, MessageClientId, Room, ScheduledMessage
from chatroom.services import scheduled_send
from chatroom.services.scheduled_send import scheduled_due_scan

pytestmark = pytest.mark.django_db


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def schedule(client, room, content="later!", delta=timedelta(hours=1), **extra):
    return client.post("/api/v1/scheduled-messages/",
                       {"room_id": str(room.id), "content": content, "send_at": iso(delta), **extra}, format="json")


def make_due(scheduled_id):
    # Time passes: its send_at is now behind the database's clock.
    ScheduledMessage.objects.filter(id=scheduled_id).update(send_at=timezone.now() - timedelta(seconds=1))


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code, response.json()
    return response.json()["error"]


def test_create_list_patch_delete(pair, api_as):
    room, alice, bob = pair
    client = api_as(alice)
    created = schedule(client, room, "see you @bob")
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) >= {"id", "room_id", "thread_id", "content", "send_at", "status", "message_id", "error"}
    assert body["status"] == "scheduled" and body["room_id"] == str(room.id) and body["message_id"] is None
    assert AuditLog.objects.filter(action="scheduled_message.created", resource_id=body["id"]).count() == 1

    other = schedule(client, room, "second", delta=timedelta(hours=2)).json()
    listed = client.get("/api/v1/scheduled-messages/").json()
    assert [r["id"] for r in listed["results"]] == [body["id"], other["id"]] and listed["next"] is None
    assert client.get("/api/v1/scheduled-messages/?status=sent").json()["results"] == []
    assert_error(client.get("/api/v1/scheduled-messages/?status=bogus"), 400, "validation_error")
    # bob sees none of alice's
    assert api_as(bob).get("/api/v1/scheduled-messages/").json()["results"] == []

    later = timezone.now() + timedelta(days=3)
    patched = client.patch(f"/api/v1/scheduled-messages/{body['id']}/", {"content": "edited", "send_at": later.isoformat()},
                           format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["content"] == "edited"
    assert ScheduledMessage.objects.get(id=body["id"]).send_at == later

    assert client.delete(f"/api/v1/scheduled-messages/{other['id']}/").status_code == 204
    assert ScheduledMessage.objects.get(id=other["id"]).status == "cancelled"
    assert client.get("/api/v1/scheduled-messages/?status=cancelled").json()["results"][0]["id"] == other["id"]
    # cancelling twice changes nothing; editing a cancelled one is a conflict
    assert client.delete(f"/api/v1/scheduled-messages/{other['id']}/").status_code == 204
    assert_error(client.patch(f"/api/v1/scheduled-messages/{other['id']}/", {"content": "x"}, format="json"),
                 409, "conflict")


def test_refusals(pair, api_as, make_room, make_user):
    room, alice, bob = pair
    client = api_as(alice)
    assert_error(schedule(client, room, delta=-timedelta(minutes=1)), 400, "validation_error")
    err = assert_error(schedule(client, room, delta=timedelta(days=366)), 400, "validation_error")
    assert "send_at" in err["fields"]
    assert_error(schedule(client, room, content="   "), 400, "validation_error")
    assert_error(client.post("/api/v1/scheduled-messages/", {"room_id": str(room.id), "content": "x",
                                                            "send_at": "tomorrow"}, format="json"),
                 400, "validation_error")
    # a room alice is not a member of
    elsewhere = make_room(name="elsewhere")
    assert_error(schedule(client, elsewhere), 403, "permission_denied")
    # a room that does not exist, or a DM of others: the same bad field
    assert_error(client.post("/api/v1/scheduled-messages/", {"room_id": "00000000-0000-0000-0000-000000000000",
                                                            "content": "x", "send_at": iso(timedelta(hours=1))},
                             format="json"), 400, "validation_error")
    carol, dave = make_user("carol"), make_user("dave")
    services.room_join(user=carol, room=room)
    services.room_join(user=dave, room=room)
    others_dm, _ = services.dm_open(actor=carol, user_ids=[dave.id])
    err = assert_error(schedule(client, others_dm), 400, "validation_error")
    assert "room_id" in err["fields"]
    # a thread root that is not in the room
    assert_error(schedule(client, room, thread_id="00000000-0000-0000-0000-000000000000"), 400, "validation_error")
    assert ScheduledMessage.objects.count() == 0

    mine = schedule(client, room).json()
    # someone else's is not found, whatever they try
    for response in (api_as(bob).patch(f"/api/v1/scheduled-messages/{mine['id']}/", {"content": "x"}, format="json"),
                     api_as(bob).delete(f"/api/v1/scheduled-messages/{mine['id']}/"),
                     api_as(bob).get(f"/api/v1/scheduled-messages/{mine['id']}/")):
        assert_error(response, 404, "not_found")
    assert ScheduledMessage.objects.get(id=mine["id"]).status == "scheduled"


def test_sent_once_at_due_time_through_the_normal_path(pair, api_as):
    room, alice, bob = pair
    client = api_as(alice)
    body = schedule(client, room, "hello @bob").json()
    assert scheduled_due_scan() == {}  # not due yet
    assert not Message.objects.filter(room=room, content="hello @bob").exists()
    make_due(body["id"])
    assert scheduled_due_scan() == {"sent": 1}
    assert scheduled_due_scan() == {}  # nothing twice
    message = Message.objects.get(room=room, content="hello @bob")
    assert message.user_id == alice.id
    scheduled = ScheduledMessage.objects.get(id=body["id"])
    assert scheduled.status == "sent" and scheduled.message_id == message.id and scheduled.error == ""
    # the normal path: its client id, its audit entry, its mention notification
    assert MessageClientId.objects.get(user=alice, client_id=f"scheduled:{body['id']}").message_id == message.id
    assert AuditLog.objects.filter(action="message.posted", resource_id=str(message.id)).count() == 1
    assert Notification.objects.filter(user=bob, type="mention", data__message_id=str(message.id)).count() == 1
    shown = client.get(f"/api/v1/scheduled-messages/{body['id']}/").json()
    assert shown["status"] == "sent" and shown["message_id"] == str(message.id)
    # editing or cancelling one already sent is a conflict
    assert_error(client.patch(f"/api/v1/scheduled-messages/{body['id']}/", {"content": "too late"}, format="json"),
                 409, "conflict")
    assert_error(client.delete(f"/api/v1/scheduled-messages/{body['id']}/"), 409, "conflict")
    # a second delivery of the send task finds it sent
    assert scheduled_send.scheduled_send(scheduled_id=body["id"]) is None
    assert Message.objects.filter(room=room, content="hello @bob").count() == 1


def test_a_thread_reply_is_posted_in_its_thread(pair, api_as):
    room, alice, bob = pair
    root = services.message_post(actor=bob, room=room, content="root")
    body = schedule(api_as(alice), room, "in the thread", thread_id=str(root.id)).json()
    assert body["thread_id"] == str(root.id)
    make_due(body["id"])
    assert scheduled_due_scan() == {"sent": 1}
    assert Message.objects.get(content="in the thread").thread_id == root.id


def _failed_with(scheduled_id, author):
    scheduled = ScheduledMessage.objects.get(id=scheduled_id)
    assert scheduled.status == "failed" and scheduled.message_id is None
    note = Notification.objects.get(user=author, data__scheduled_id=str(scheduled_id))
    assert note.message == scheduled.error and "not sent" in note.title
    assert AuditLog.objects.filter(action="scheduled_message.failed", resource_id=str(scheduled_id)).count() == 1
    return scheduled.error


def test_kicked_author_fails_with_reason(pair, api_as):
    room, alice, bob = pair
    body = schedule(api_as(bob), room, "from bob").json()
    services.member_kick(actor=alice, room=room, user=bob)
    make_due(body["id"])
    assert scheduled_due_scan() == {"failed": 1}
    assert "not a member" in _failed_with(body["id"], bob)
    assert not Message.objects.filter(content="from bob").exists()


def test_archived_room_fails_with_reason(pair, api_as):
    room, alice, bob = pair
    body = schedule(api_as(bob), room, "into the archive").json()
    Room.objects.filter(pk=room.pk).update(archived=True)
    make_due(body["id"])
    assert scheduled_due_scan() == {"failed": 1}
    assert "archived" in _failed_with(body["id"], bob)
    assert not Message.objects.filter(content="into the archive").exists()


def test_blocked_dm_fails_with_reason(pair, api_as):
    room, alice, bob = pair
    dm, _ = services.dm_open(actor=alice, user_ids=[bob.id])
    body = schedule(api_as(bob), dm, "psst").json()
    services.block_add(actor=alice, user=bob)
    make_due(body["id"])
    assert scheduled_due_scan() == {"failed": 1}
    assert "cannot message" in _failed_with(body["id"], bob)
    assert not Message.objects.filter(content="psst").exists()
