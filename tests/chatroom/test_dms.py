"""Direct messages and group DMs over the API (issue 16): opening one (one
per pair / per set, 201 then 200), the DM policy, blocks, size limits, the
refusals of everything a DM does not have, and that nobody outside a DM,
staff included, can list, search or read it."""

import pytest
from django.test import override_settings

from audit.models import AuditLog
from chatroom import services
from chatroom.models import Message, Room, RoomMember, UserBlock
from accounts.models import Notification

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def people(make_room, member_of, make_user):
    """alice, bob, carol and dave, who share the channel #lobby, and eve,
    who shares nothing with them."""
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    bob, carol, dave = (member_of(lobby, username=n) for n in ("bob", "carol", "dave"))
    eve = make_user("eve")
    return alice, bob, carol, dave, eve


def dm_notifications(user, *, author):
    return list(Notification.objects.filter(user=user, data__author_id=str(author.id)).order_by("created_at"))


def open_dm(client, *users):
    return client.post("/api/v1/dms/", {"user_ids": [str(u.id) for u in users]}, format="json")


def test_one_dm_per_pair_201_then_200_from_either_side(people, api_as):
    alice, bob, *_ = people
    first = open_dm(api_as(alice), bob)
    assert first.status_code == 201, first.content
    room = first.json()["room"]
    assert room["kind"] == "dm" and room["name"] == "" and room["is_private"] is False
    assert [p["username"] for p in room["participants"]] == ["bob"]
    again = open_dm(api_as(bob), alice)
    assert again.status_code == 200
    assert again.json()["room"]["id"] == room["id"]
    assert [p["username"] for p in again.json()["room"]["participants"]] == ["alice"]
    assert Room.objects.filter(kind="dm").count() == 1
    assert set(RoomMember.objects.filter(room_id=room["id"]).values_list("role", flat=True)) == {"member"}
    assert AuditLog.objects.filter(action="room.dm.created").count() == 1


def test_group_dm_per_exact_set_and_size_limits(people, api_as, make_user):
    alice, bob, carol, dave, _ = people
    client = api_as(alice)
    group = open_dm(client, bob, carol)
    assert group.status_code == 201 and group.json()["room"]["kind"] == "group_dm"
    assert open_dm(api_as(carol), alice, bob).json()["room"]["id"] == group.json()["room"]["id"]
    bigger = open_dm(client, bob, carol, dave)
    assert bigger.status_code == 201 and bigger.json()["room"]["id"] != group.json()["room"]["id"]
    with override_settings(GROUP_DM_MAX_MEMBERS=3):
        error = assert_error(open_dm(client, bob, carol, dave), 400, "validation_error")
        assert "user_ids" in error["fields"]
    assert Room.objects.filter(kind="group_dm").count() == 2


@pytest.mark.parametrize("body", [{}, {"user_ids": []}, {"user_ids": "bob"}, {"user_ids": ["not-a-uuid"]},
                                  {"user_ids": ["00000000-0000-0000-0000-000000000001"]}])
def test_bad_input_is_a_validation_error(people, api_as, body):
    alice, *_ = people
    error = assert_error(api_as(alice).post("/api/v1/dms/", body, format="json"), 400, "validation_error")
    assert any(f.startswith("user_ids") for f in error["fields"])
    assert not Room.objects.filter(kind__in=["dm", "group_dm"]).exists()


def test_only_yourself_or_an_inactive_user_is_a_validation_error(people, api_as, make_user):
    alice, *_ = people
    assert_error(open_dm(api_as(alice), alice), 400, "validation_error")
    gone = make_user("gone")
    type(gone).objects.filter(pk=gone.pk).update(status="banned")
    with override_settings(DM_POLICY="anyone"):
        assert_error(open_dm(api_as(alice), gone), 400, "validation_error")
    assert not Room.objects.filter(kind__in=["dm", "group_dm"]).exists()


def test_dm_policy_shared_and_anyone(people, api_as):
    alice, *_, eve = people
    error = assert_error(open_dm(api_as(alice), eve), 403, "permission_denied")
    assert "share" in error["message"]
    assert not Room.objects.filter(kind="dm").exists()
    with override_settings(DM_POLICY="anyone"):
        assert open_dm(api_as(alice), eve).status_code == 201


def test_blocked_user_cannot_open_or_post_and_blocker_is_not_notified(people, api_as):
    alice, bob, *_ = people
    room_id = open_dm(api_as(alice), bob).json()["room"]["id"]
    blocked = api_as(bob).post("/api/v1/me/blocks/", {"user_id": str(alice.id)}, format="json")
    assert blocked.status_code == 201 and blocked.json()["user"]["username"] == "alice"
    listing = api_as(bob).get("/api/v1/me/blocks/").json()
    assert [b["user"]["username"] for b in listing["results"]] == ["alice"]

    assert_error(open_dm(api_as(alice), bob), 403, "blocked")
    assert_error(open_dm(api_as(alice), bob, people[3]), 403, "blocked")  # nor a group DM with them
    before = Message.objects.filter(room_id=room_id).count()
    assert_error(api_as(alice).post(f"/api/v1/rooms/{room_id}/messages/", {"content": "hi"}, format="json"),
                 403, "blocked")
    assert Message.objects.filter(room_id=room_id).count() == before  # nothing half-written
    # The blocker still writes to them.
    assert api_as(bob).post(f"/api/v1/rooms/{room_id}/messages/", {"content": "bye"}, format="json").status_code == 201

    # In a group DM with bob, alice's mentions of bob no longer reach him.
    group = open_dm(api_as(bob), alice, people[2]).json()["room"]["id"]
    api_as(alice).post(f"/api/v1/rooms/{group}/messages/", {"content": "@bob look"}, format="json")
    assert not dm_notifications(bob, author=alice)
    assert not Notification.objects.filter(user=bob, data__room_id=group).exists()
    assert dm_notifications(people[2], author=alice)  # carol, who did not block her, is notified

    assert api_as(bob).delete(f"/api/v1/me/blocks/{alice.id}/").status_code == 204
    assert not UserBlock.objects.exists()
    assert_error(api_as(bob).delete(f"/api/v1/me/blocks/{alice.id}/"), 404, "not_found")
    assert api_as(alice).post(f"/api/v1/rooms/{room_id}/messages/", {"content": "hi"}, format="json").status_code == 201
    assert AuditLog.objects.filter(action__in=["user.blocked", "user.unblocked"]).count() == 2


def test_block_bad_input(people, api_as):
    alice, *_ = people
    assert_error(api_as(alice).post("/api/v1/me/blocks/", {"user_id": "x"}, format="json"), 400, "validation_error")
    assert_error(api_as(alice).post("/api/v1/me/blocks/", {"user_id": str(alice.id)}, format="json"),
                 400, "validation_error")
    error = assert_error(api_as(alice).post("/api/v1/me/blocks/", {"user_id": "00000000-0000-0000-0000-000000000001"},
                                            format="json"), 400, "validation_error")
    assert error["fields"] == {"user_id": ["No such user."]}


def test_a_dm_has_no_name_password_invites_roles_or_kicks(people, api_as):
    alice, bob, carol, *_ = people
    client = api_as(alice)
    room_id = open_dm(client, bob).json()["room"]["id"]
    error = assert_error(client.patch(f"/api/v1/rooms/{room_id}/", {"name": "secret-club"}, format="json"),
                         400, "validation_error")
    assert "name" in error["fields"]
    assert_error(client.patch(f"/api/v1/rooms/{room_id}/", {"is_private": True, "password": "abcd1234"},
                              format="json"), 400, "validation_error")
    assert_error(client.post(f"/api/v1/rooms/{room_id}/invites/", {}, format="json"), 403, "permission_denied")
    assert_error(client.post(f"/api/v1/rooms/{room_id}/invites/", {"user_id": str(carol.id)}, format="json"),
                 403, "permission_denied")
    assert_error(client.patch(f"/api/v1/rooms/{room_id}/members/{bob.id}/", {"role": "admin"}, format="json"),
                 403, "permission_denied")
    assert_error(client.delete(f"/api/v1/rooms/{room_id}/members/{bob.id}/"), 403, "permission_denied")
    assert_error(client.post(f"/api/v1/rooms/{room_id}/leave"), 409, "conflict")
    # The member's own notification switch still works.
    ok = client.patch(f"/api/v1/rooms/{room_id}/members/{alice.id}/", {"notifications_enabled": False}, format="json")
    assert ok.status_code == 200, ok.content
    room = Room.objects.get(pk=room_id)
    assert room.name == "" and room.password_hash is None and not room.invites.exists()
    assert RoomMember.objects.filter(room=room).count() == 2


def test_leaving_a_group_dm_rekeys_it(people, api_as):
    alice, bob, carol, dave, _ = people
    group = open_dm(api_as(alice), bob, carol, dave).json()["room"]["id"]
    assert api_as(dave).post(f"/api/v1/rooms/{group}/leave").status_code == 204
    assert_error(api_as(dave).get(f"/api/v1/rooms/{group}/messages/"), 404, "not_found")
    # The three still in it are that group DM now.
    again = open_dm(api_as(bob), alice, carol)
    assert again.status_code == 200 and again.json()["room"]["id"] == group


def test_a_third_person_and_staff_cannot_see_a_dm(people, api_as, make_user):
    alice, bob, carol, *_ = people
    staff = make_user("root", is_staff=True)
    room_id = open_dm(api_as(alice), bob).json()["room"]["id"]
    api_as(alice).post(f"/api/v1/rooms/{room_id}/messages/", {"content": "our secret plan"}, format="json")
    message = Message.objects.get(room_id=room_id, content="our secret plan")
    for outsider in (carol, staff):
        client = api_as(outsider)
        for path in (f"/api/v1/rooms/{room_id}/", f"/api/v1/rooms/{room_id}/messages/",
                     f"/api/v1/rooms/{room_id}/members/", f"/api/v1/rooms/{room_id}/pins/",
                     f"/api/v1/messages/{message.id}/history"):
            assert_error(client.get(path), 404, "not_found")
        assert_error(client.post(f"/api/v1/rooms/{room_id}/join", {}, format="json"), 404, "not_found")
        assert_error(client.post(f"/api/v1/rooms/{room_id}/messages/", {"content": "x"}, format="json"),
                     404, "not_found")
        assert_error(client.post(f"/api/v1/messages/{message.id}/reactions/", {"emoji": "👍"}, format="json"),
                     404, "not_found")
        assert_error(client.patch(f"/api/v1/messages/{message.id}/", {"content": "x"}, format="json"),
                     404, "not_found")
        assert client.get("/api/v1/search/messages?q=secret").json()["results"] == []
        ids = [r["id"] for r in client.get("/api/v1/rooms/?scope=public").json()["results"]]
        ids += [r["id"] for r in client.get("/api/v1/rooms/?scope=mine").json()["results"]]
        assert room_id not in ids
    mine = [r["id"] for r in api_as(bob).get("/api/v1/rooms/?scope=mine").json()["results"]]
    assert room_id in mine


def test_everything_messages_do_works_in_a_dm(people, api_as):
    alice, bob, *_ = people
    a, b = api_as(alice), api_as(bob)
    room_id = open_dm(a, bob).json()["room"]["id"]
    upload = a.post("/api/v1/uploads", {"file": _png()}, format="multipart")
    assert upload.status_code == 201, upload.content
    sent = a.post(f"/api/v1/rooms/{room_id}/messages/",
                  {"content": "look at this", "attachment_ids": [upload.json()["id"]], "client_id": "k1"},
                  format="json")
    assert sent.status_code == 201, sent.content
    message = sent.json()
    assert message["attachments"][0]["filename"] == "dot.png"
    assert a.post(f"/api/v1/rooms/{room_id}/messages/", {"content": "look at this", "client_id": "k1"},
                  format="json").status_code == 200

    unread = b.get("/api/v1/unread").json()
    assert unread["rooms"] == [{"room_id": room_id, "unread": 1, "mentions": 1, "capped": False}]  # a DM counts as a mention
    assert dm_notifications(bob, author=alice)[0].title == "alice sent you a message"

    history = b.get(f"/api/v1/rooms/{room_id}/messages/").json()["results"]
    assert [m["content"] for m in history] == ["look at this"]
    assert b.get(f"/api/v1/attachments/{upload.json()['id']}").status_code == 200
    assert b.post(f"/api/v1/messages/{message['id']}/reactions/", {"emoji": "👍"}, format="json").status_code in (200, 201)
    assert a.patch(f"/api/v1/messages/{message['id']}/", {"content": "look at this one"},
                   format="json").json()["content"] == "look at this one"
    found = b.get("/api/v1/search/messages?q=look").json()["results"]
    assert [r["message"]["id"] for r in found] == [message["id"]]
    assert b.post(f"/api/v1/rooms/{room_id}/read", {"message_id": message["id"]}, format="json").status_code in (200, 204)
    assert b.get("/api/v1/unread").json()["rooms"] == []
    assert a.delete(f"/api/v1/messages/{message['id']}/").status_code == 204
    assert b.get(f"/api/v1/rooms/{room_id}/messages/").json()["results"] == []
    assert AuditLog.objects.filter(action="message.posted", resource_id=message["id"]).count() == 1


def test_room_name_rule_is_for_channels_only(make_user, api_as):
    alice = make_user("alice")
    assert_error(api_as(alice).post("/api/v1/rooms/", {"name": "", "is_private": False}, format="json"),
                 400, "validation_error")
    assert_error(api_as(alice).post("/api/v1/rooms/", {"name": "a b", "is_private": False}, format="json"),
                 400, "validation_error")


def test_the_posting_function_refuses_blocked_posts_itself(people):
    """The rule is in chat_message_post, not in Python: the service has no
    check of its own, so a block made after the room is read still holds."""
    alice, bob, *_ = people
    room, _ = services.dm_open(actor=alice, user_ids=[str(bob.id)])
    UserBlock.objects.create(blocker=bob, blocked=alice)
    with pytest.raises(Exception) as refused:
        services.message_post(actor=alice, room=Room(pk=room.pk), content="hi")
    assert getattr(refused.value, "code", None) == "blocked"


def _png():
    import base64
    import io

    data = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    f = io.BytesIO(data)
    f.name = "dot.png"
    return f
