"""Chat's notification hooks: mentions and replies in message_post (muted
members and the poster skipped, a constant number of queries), and personal
room invitations (invite_user) through the service and the API."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Notification
from chatroom import services
from chatroom.models import Invite, RoomMember
from core.errors import Conflict, NotFound, PermissionDenied

pytestmark = pytest.mark.django_db


def notes(user=None, **filters):
    qs = Notification.objects.all() if user is None else Notification.objects.filter(user=user)
    return list(qs.filter(**filters))


# --------------------------------------------------------------------------- mentions and replies


def test_a_mention_notifies_the_mentioned_member_with_room_and_message(make_room, member_of):
    room = make_room()
    ann = member_of(room)
    message = services.message_post(actor=room.owner, room=room, content=f"hey @{ann.username}, look at this")
    [n] = notes()
    assert n.user_id == ann.id and n.type == "mention"
    assert room.owner.username in n.title and room.name in n.title
    assert n.data["room_id"] == str(room.id) and n.data["message_id"] == str(message.id)
    assert n.data["excerpt"] == f"hey @{ann.username}, look at this" and n.message == n.data["excerpt"]
    assert n.data["url"] == f"/chat/rooms/{room.id}/?around={n.data['message_id']}"


def test_the_author_gets_nothing_for_mentioning_themself_and_outsiders_get_nothing(make_room, member_of, make_user):
    room = make_room()
    poster = member_of(room)
    outsider = make_user()
    services.message_post(actor=poster, room=room, content=f"@{poster.username} and @{outsider.username}")
    assert notes() == []


def test_members_who_muted_the_room_get_no_notifications(make_room, member_of):
    room = make_room()
    muted, loud = member_of(room), member_of(room)
    RoomMember.objects.filter(room=room, user=muted).update(notifications_enabled=False)
    parent = services.message_post(actor=muted, room=room, content="my question")
    services.message_post(actor=room.owner, room=room, content=f"@{muted.username} @{loud.username}",
                          reply_to=parent.id)
    assert [n.user_id for n in notes()] == [loud.id]


def test_a_reply_notifies_the_parents_author(make_room, member_of):
    room = make_room()
    asker = member_of(room)
    parent = services.message_post(actor=asker, room=room, content="anyone?")
    reply = services.message_post(actor=room.owner, room=room, content="yes, me", reply_to=parent.id)
    [n] = notes()
    assert n.user_id == asker.id and n.type == "new_message"
    assert n.data["reason"] == "reply" and n.data["reply_to"] == str(parent.id)
    assert n.data["message_id"] == str(reply.id) and n.data["excerpt"] == "yes, me"


def test_a_reply_that_also_mentions_the_author_notifies_once(make_room, member_of):
    room = make_room()
    asker = member_of(room)
    parent = services.message_post(actor=asker, room=room, content="anyone?")
    services.message_post(actor=room.owner, room=room, content=f"@{asker.username} yes", reply_to=parent.id)
    assert [(n.user_id, n.type) for n in notes()] == [(asker.id, "mention")]


def test_replying_to_oneself_or_to_someone_who_left_notifies_nobody(make_room, member_of):
    room = make_room()
    leaver = member_of(room)
    own = services.message_post(actor=room.owner, room=room, content="note to self")
    services.message_post(actor=room.owner, room=room, content="and again", reply_to=own.id)
    theirs = services.message_post(actor=leaver, room=room, content="bye soon")
    services.room_leave(user=leaver, room=room)
    services.message_post(actor=room.owner, room=room, content="see you", reply_to=theirs.id)
    assert notes() == []


def test_a_post_costs_the_same_queries_for_one_or_many_mentions(make_room, member_of):
    room = make_room()
    few = [member_of(room)]
    many = [member_of(room) for _ in range(6)]
    # Warm up whatever a first post in the room caches.
    services.message_post(actor=room.owner, room=room, content="warm up")

    def cost(users):
        with CaptureQueriesContext(connection) as ctx:
            services.message_post(actor=room.owner, room=room, content=" ".join(f"@{u.username}" for u in users))
        return len(ctx.captured_queries)

    assert cost(few) == cost(many)
    assert len(notes(type="mention")) == 7


def test_a_message_that_rolls_back_leaves_no_notification(make_room, member_of):
    room = make_room()
    ann = member_of(room)
    with pytest.raises(Exception):
        services.message_post(actor=room.owner, room=room, content=f"@{ann.username}",
                              attachment_ids=["00000000-0000-0000-0000-000000000000"])
    assert notes() == []


# --------------------------------------------------------------------------- personal invitations


def test_invite_user_creates_a_personal_single_use_invite_and_notifies_the_invitee(make_room, make_user):
    room = make_room(is_private=True, password="secret-pass")
    guest = make_user()
    invite = services.invite_user(actor=room.owner, room=room, user=guest)
    assert invite.invitee_id == guest.id and invite.max_uses == 1 and invite.expires_at is not None
    [n] = notes(guest)
    assert n.type == "room_invitation" and room.name in n.title
    assert n.data["invite_code"] == invite.code and n.data["url"] == f"/chat/invite/{invite.code}/"
    assert n.data["room_id"] == str(room.id) and n.expires_at == invite.expires_at


def test_only_the_invitee_may_use_a_personal_invite_and_only_once(make_room, make_user):
    room = make_room(is_private=True, password="secret-pass")
    guest, intruder = make_user(), make_user()
    invite = services.invite_user(actor=room.owner, room=room, user=guest)
    with pytest.raises(NotFound):
        services.invite_accept(user=intruder, code=invite.code)
    with pytest.raises(NotFound):
        services.room_join(user=intruder, room=room, invite_code=invite.code)
    assert not RoomMember.objects.filter(room=room, user=intruder).exists()
    member = services.invite_accept(user=guest, code=invite.code)
    assert member.user_id == guest.id
    services.room_leave(user=guest, room=room)
    with pytest.raises(PermissionDenied):
        services.invite_accept(user=guest, code=invite.code)  # used up


def test_invite_user_needs_the_invite_power_and_a_non_member(make_room, member_of, make_user):
    room = make_room(allow_invites=False)
    plain = member_of(room)
    guest = make_user()
    with pytest.raises(PermissionDenied):
        services.invite_user(actor=plain, room=room, user=guest)
    with pytest.raises(Conflict):
        services.invite_user(actor=room.owner, room=room, user=plain)
    assert notes() == [] and not Invite.objects.filter(invitee__isnull=False).exists()


def test_the_invites_api_invites_a_user_by_id_and_keeps_plain_invites(make_room, make_user, api_as):
    room = make_room()
    guest = make_user()
    client = api_as(room.owner)
    response = client.post(f"/api/v1/rooms/{room.id}/invites/", {"user_id": str(guest.id)}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["invitee_id"] == str(guest.id) and body["max_uses"] == 1
    assert notes(guest)[0].data["invite_code"] == body["code"]

    plain = client.post(f"/api/v1/rooms/{room.id}/invites/", {"max_uses": 5}, format="json").json()
    assert plain["invitee_id"] is None and plain["max_uses"] == 5

    response = client.post(f"/api/v1/rooms/{room.id}/invites/", {"user_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.post(f"/api/v1/rooms/{room.id}/invites/", {"user_id": "nope"}, format="json")
    assert response.status_code == 400 and "user_id" in response.json()["error"]["fields"]
    response = client.post(f"/api/v1/rooms/{room.id}/invites/", {"user_id": str(room.owner.id)}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
