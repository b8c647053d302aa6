"""The chat pages render through the same services and selectors."""

import json

import pytest

from chatroom import services
from accounts.models import Notification
from chatroom.models import Invite, JoinRequest, Room, RoomMember

pytestmark = pytest.mark.django_db


def test_room_list_shows_mine_and_public_and_creates_rooms(client, make_user, make_room):
    user = make_user()
    make_room(name="lobby-room")
    make_room(name="secret-room", is_private=True, password="pass word")
    client.force_login(user)
    page = client.get("/chat/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "#lobby-room" in html and "secret-room" not in html

    created = client.post("/chat/", {"name": "made-here", "description": "d"})
    room = Room.objects.get(name="made-here")
    assert created.status_code == 302 and created["Location"] == f"/chat/rooms/{room.id}/"
    assert RoomMember.objects.get(room=room, user=user).role == "owner"

    bad = client.post("/chat/", {"name": "private-no-pw", "is_private": "on"})
    assert bad.status_code == 200 and "A private room needs a password." in bad.content.decode()
    assert not Room.objects.filter(name="private-no-pw").exists()


def test_room_page_for_members_and_join_form_for_others(client, make_user, make_room):
    room = make_room(is_private=True, password="right horse")
    stranger = make_user()
    client.force_login(stranger)
    page = client.get(f"/chat/rooms/{room.id}/")
    assert 'data-testid="join-form"' in page.content.decode()
    wrong = client.post(f"/chat/rooms/{room.id}/join", {"password": "wrong"}, follow=True)
    assert "Wrong room password." in wrong.content.decode()
    assert not RoomMember.objects.filter(room=room, user=stranger).exists()
    client.post(f"/chat/rooms/{room.id}/join", {"password": "right horse"})
    page = client.get(f"/chat/rooms/{room.id}/")
    html = page.content.decode()
    assert 'id="timeline"' in html and "chat-room.js" in html
    start = html.index('id="chat-config"')
    config = json.loads(html[html.index(">", start) + 1: html.index("</script>", start)])
    assert config["roomId"] == str(room.id) and config["role"] == "member" and config["powers"]["pin"] is False


def test_invite_page_accepts(client, make_user, make_room):
    room = make_room(is_private=True, password="right horse")
    invite = services.invite_create(actor=room.owner, room=room)
    user = make_user()
    client.force_login(user)
    assert f"Join #{room.name}" in client.get(f"/chat/invite/{invite.code}/").content.decode()
    response = client.post(f"/chat/invite/{invite.code}/")
    assert response.status_code == 302 and RoomMember.objects.filter(room=room, user=user).exists()
    assert client.get("/chat/invite/not-a-code/").status_code == 404


def test_room_page_invites_a_user_by_name_who_then_accepts(client, make_user, make_room):
    owner = make_user()
    # Members may not invite here; the owner always may.
    room = make_room(owner=owner, is_private=True, password="right horse", allow_invites=False)
    friend, plain_member = make_user(), make_user()
    RoomMember.objects.create(room=room, user=plain_member, role="member")
    client.force_login(owner)
    assert 'data-testid="invite-user"' in client.get(f"/chat/rooms/{room.id}/").content.decode()

    done = client.post(f"/chat/rooms/{room.id}/invite", {"login": friend.email.upper()}, follow=True)
    assert f"Invited {friend.username}" in done.content.decode()
    invite = Invite.objects.get(room=room)
    assert invite.invitee == friend and invite.max_uses == 1
    note = Notification.objects.get(user=friend, type=Notification.Type.ROOM_INVITATION)
    assert note.data["invite_code"] == invite.code

    # Refused, with nothing written: an unknown name, a member, an inviter without the power.
    unknown = client.post(f"/chat/rooms/{room.id}/invite", {"login": "<b>nobody</b>"}, follow=True)
    assert "No user &#x27;&lt;b&gt;nobody&lt;/b&gt;&#x27;." in unknown.content.decode()
    again = client.post(f"/chat/rooms/{room.id}/invite", {"login": plain_member.username}, follow=True)
    assert "already a member" in again.content.decode()
    client.force_login(plain_member)
    assert 'data-testid="invite-user"' not in client.get(f"/chat/rooms/{room.id}/").content.decode()
    refused = client.post(f"/chat/rooms/{room.id}/invite", {"login": make_user().username}, follow=True)
    assert "This room does not allow invites from members." in refused.content.decode()
    assert Invite.objects.filter(room=room).count() == 1

    client.force_login(friend)
    client.post(f"/chat/invite/{invite.code}/")
    assert RoomMember.objects.filter(room=room, user=friend).exists()


def test_join_requests_page_approves(client, make_user, make_room):
    room = make_room(require_approval=True)
    asker = make_user()
    _, request = services.room_join(user=asker, room=room)
    client.force_login(room.owner)
    assert asker.username in client.get(f"/chat/rooms/{room.id}/requests/").content.decode()
    client.post(f"/chat/rooms/{room.id}/requests/", {"request_id": str(request.id), "decision": "approve"})
    assert JoinRequest.objects.get(pk=request.pk).status == "approved"
    assert RoomMember.objects.filter(room=room, user=asker).exists()
    # A plain member may not see the page.
    client.force_login(asker)
    assert client.get(f"/chat/rooms/{room.id}/requests/").status_code == 302


def test_search_page_escapes_message_text(client, make_room):
    room = make_room()
    services.message_post(actor=room.owner, room=room, content='<script>alert("x")</script> findme')
    client.force_login(room.owner)
    html = client.get("/chat/search/", {"q": "findme"}).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html and "<mark>findme</mark>" in html
