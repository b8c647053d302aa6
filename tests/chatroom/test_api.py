"""The chat API against api.md: paths, statuses, shapes and error codes."""

import uuid

import pytest

from chatroom import services
from chatroom.models import Message, Room, RoomMember

# GET /unread's counts over followed threads (none in these tests).
NO_THREADS = {"unread": 0, "mentions": 0}

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {"id", "room_id", "user", "content", "message_type", "reply_to", "is_edited", "is_deleted", "is_pinned",
                "reactions", "attachments", "mentions", "created_at", "updated_at", "cursor"}


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_create_list_and_discover_rooms(make_user, api_as):
    alice, bob = make_user(), make_user()
    client = api_as(alice)
    created = client.post("/api/v1/rooms/", {"name": "api-room", "description": "hello"}, format="json")
    assert created.status_code == 201
    room = created.json()
    assert room["name"] == "api-room" and room["role"] == "owner" and room["is_member"] is True
    client.post("/api/v1/rooms/", {"name": "hidden-room", "is_private": True, "password": "pass word"}, format="json")

    mine = client.get("/api/v1/rooms/?scope=mine").json()
    assert {r["name"] for r in mine["results"]} == {"api-room", "hidden-room"} and "next" in mine
    public = api_as(bob).get("/api/v1/rooms/?scope=public&q=api").json()
    assert [r["name"] for r in public["results"]] == ["api-room"]
    assert public["results"][0]["is_member"] is False
    assert api_as(bob).get("/api/v1/rooms/?scope=public&q=hidden").json()["results"] == []


def test_room_create_validation_errors_use_the_contract_shape(make_user, api_as):
    client = api_as(make_user())
    error = _error(client.post("/api/v1/rooms/", {"name": "x y"}, format="json"), 400, "validation_error")
    assert "name" in error["fields"]
    error = _error(client.post("/api/v1/rooms/", {"name": "priv-room", "is_private": True}, format="json"),
                   400, "validation_error")
    assert "password" in error["fields"]
    assert not Room.objects.exists()


def test_join_returns_member_or_pending(make_room, make_user, api_as):
    open_room = make_room()
    gated = make_room(require_approval=True)
    client = api_as(make_user())
    joined = client.post(f"/api/v1/rooms/{open_room.id}/join", {}, format="json")
    assert joined.status_code == 200 and joined.json()["member"]["role"] == "member"
    pending = client.post(f"/api/v1/rooms/{gated.id}/join", {}, format="json")
    assert pending.status_code == 202 and pending.json()["status"] == "pending"

    requests = api_as(gated.owner).get(f"/api/v1/rooms/{gated.id}/join-requests/").json()["results"]
    assert len(requests) == 1
    approved = api_as(gated.owner).post(f"/api/v1/rooms/{gated.id}/join-requests/{requests[0]['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert RoomMember.objects.filter(room=gated).count() == 2


def test_wrong_password_and_strangers_are_refused(make_room, make_user, api_as):
    room = make_room(is_private=True, password="right horse")
    stranger = api_as(make_user())
    _error(stranger.post(f"/api/v1/rooms/{room.id}/join", {"password": "nope"}, format="json"), 403, "permission_denied")
    _error(stranger.get(f"/api/v1/rooms/{room.id}/messages/"), 403, "permission_denied")
    _error(stranger.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "hi"}, format="json"), 403, "permission_denied")
    _error(stranger.get(f"/api/v1/rooms/{uuid.uuid4()}/"), 404, "not_found")


def test_invites_via_api(make_room, make_user, api_as):
    room = make_room(is_private=True, password="right horse")
    invite = api_as(room.owner).post(f"/api/v1/rooms/{room.id}/invites/", {"max_uses": 1, "max_age_seconds": 60},
                                     format="json")
    assert invite.status_code == 201
    body = invite.json()
    assert set(body) >= {"code", "max_uses", "uses", "expires_at"} and body["max_uses"] == 1 and body["uses"] == 0
    assert api_as(make_user()).post(f"/api/v1/invites/{body['code']}/accept").status_code == 200
    _error(api_as(make_user()).post(f"/api/v1/invites/{body['code']}/accept"), 403, "permission_denied")


def test_message_lifecycle_over_the_api(make_room, member_of, api_as):
    room = make_room()
    bob = member_of(room)
    owner, client = api_as(room.owner), api_as(bob)

    sent = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "hello **world**", "client_id": "k1"},
                       format="json")
    assert sent.status_code == 201
    message = sent.json()
    assert set(message) >= MESSAGE_KEYS and message["user"]["id"] == str(bob.id)
    again = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "dupe", "client_id": "k1"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == message["id"]

    reply = owner.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "welcome", "reply_to": message["id"]},
                       format="json").json()
    assert reply["reply_to"]["id"] == message["id"] and reply["reply_to"]["excerpt"] == "hello **world**"

    reacted = owner.post(f"/api/v1/messages/{message['id']}/reactions/", {"emoji": "🎉"}, format="json").json()
    assert reacted["reactions"] == [{"emoji": "🎉", "count": 1, "me": True}]
    assert owner.delete(f"/api/v1/messages/{message['id']}/reactions/🎉/").json()["reactions"] == []

    edited = client.patch(f"/api/v1/messages/{message['id']}/", {"content": "hello there"}, format="json").json()
    assert edited["is_edited"] and edited["content"] == "hello there"
    _error(owner.patch(f"/api/v1/messages/{message['id']}/", {"content": "hijack"}, format="json"), 403,
           "permission_denied")
    history = client.get(f"/api/v1/messages/{message['id']}/history").json()["results"]
    assert [h["content"] for h in history] == ["hello **world**"]

    assert owner.post(f"/api/v1/messages/{message['id']}/pin").json()["is_pinned"] is True
    assert [m["id"] for m in client.get(f"/api/v1/rooms/{room.id}/pins/").json()["results"]] == [message["id"]]
    _error(client.post(f"/api/v1/messages/{reply['id']}/pin"), 403, "permission_denied")

    assert client.delete(f"/api/v1/messages/{message['id']}/").status_code == 204
    page = client.get(f"/api/v1/rooms/{room.id}/messages/").json()
    assert set(page) == {"results", "prev", "next"}
    assert message["id"] not in [m["id"] for m in page["results"]]
    assert page["results"][-1]["reply_to"]["excerpt"] == ""  # the replied-to text is gone too


def test_history_paging_over_the_api(make_room, api_as):
    room = make_room()
    for i in range(12):
        services.message_post(actor=room.owner, room=room, content=f"m{i}")
    client = api_as(room.owner)
    newest = client.get(f"/api/v1/rooms/{room.id}/messages/?limit=5").json()
    assert [m["content"] for m in newest["results"]] == ["m7", "m8", "m9", "m10", "m11"] and newest["next"] is None
    older = client.get(f"/api/v1/rooms/{room.id}/messages/?limit=5&before={newest['prev']}").json()
    assert [m["content"] for m in older["results"]] == ["m2", "m3", "m4", "m5", "m6"]
    newer = client.get(f"/api/v1/rooms/{room.id}/messages/?limit=3&after={older['next']}").json()
    assert [m["content"] for m in newer["results"]] == ["m7", "m8", "m9"]
    _error(client.get(f"/api/v1/rooms/{room.id}/messages/?before=garbage"), 400, "validation_error")
    _error(client.get(f"/api/v1/rooms/{room.id}/messages/?limit=many"), 400, "validation_error")


def test_members_kick_and_mute_over_the_api(make_room, member_of, api_as):
    room = make_room()
    mod, bob = member_of(room, "moderator"), member_of(room)
    members = api_as(bob).get(f"/api/v1/rooms/{room.id}/members/").json()["results"]
    assert {m["role"] for m in members} == {"owner", "moderator", "member"}
    muted = api_as(mod).patch(f"/api/v1/rooms/{room.id}/members/{bob.id}/", {"is_muted": True}, format="json")
    assert muted.status_code == 200 and muted.json()["is_muted"] is True
    _error(api_as(bob).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "hey"}, format="json"), 403,
           "permission_denied")
    _error(api_as(bob).delete(f"/api/v1/rooms/{room.id}/members/{mod.id}/"), 403, "permission_denied")
    assert api_as(mod).delete(f"/api/v1/rooms/{room.id}/members/{bob.id}/").status_code == 204
    assert not RoomMember.objects.filter(room=room, user=bob).exists()


def test_read_unread_and_search_endpoints(make_room, member_of, api_as):
    room = make_room()
    bob = member_of(room, username="bobby")
    first = services.message_post(actor=room.owner, room=room, content="ping @bobby about 会议")
    services.message_post(actor=room.owner, room=room, content="second")
    client = api_as(bob)
    unread = client.get("/api/v1/unread").json()
    assert unread == {"total": 2, "capped": False, "rooms": [{"room_id": str(room.id), "unread": 2, "mentions": 1, "capped": False}], "threads": NO_THREADS}
    assert client.post(f"/api/v1/rooms/{room.id}/read", {"message_id": str(first.id)}, format="json").status_code == 200
    assert client.get("/api/v1/unread").json()["total"] == 1
    found = client.get("/api/v1/search/messages", {"q": "会议"}).json()
    assert set(found) == {"results", "next"}
    assert found["results"][0]["message"]["id"] == str(first.id) and "<mark>会议</mark>" in found["results"][0]["highlight"]
    _error(client.get("/api/v1/search/messages", {"q": ""}), 400, "validation_error")


def test_api_key_scopes_apply(make_room, make_user):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    room = make_room()
    services.message_post(actor=room.owner, room=room, content="x")
    _, read_key = api_key_create(user=room.owner, name="reader", scopes=["chat:read"])
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {read_key}")
    assert client.get(f"/api/v1/rooms/{room.id}/messages/").status_code == 200
    _error(client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "y"}, format="json"), 403, "permission_denied")
    assert Message.objects.filter(room=room, content="y").count() == 0


def test_unauthenticated_calls_get_401(make_room):
    from rest_framework.test import APIClient

    room = make_room()
    _error(APIClient().get(f"/api/v1/rooms/{room.id}/messages/"), 401, "not_authenticated")


def test_a_room_joins_only_an_org_the_creator_belongs_to(make_user, api_as):
    from orgs.services import org_create

    alice, bob = make_user(), make_user()
    org = org_create(owner=alice, name="acme", display_name="Acme")
    error = _error(api_as(bob).post("/api/v1/rooms/", {"name": "acme-chat", "org_id": str(org.id)}, format="json"),
                   400, "validation_error")
    assert "org_id" in error["fields"]
    created = api_as(alice).post("/api/v1/rooms/", {"name": "acme-chat", "org_id": str(org.id)}, format="json")
    assert created.status_code == 201 and created.json()["org_id"] == str(org.id)
