"""Joining rooms: public, password, invites (limits, expiry, revocation),
approval, capacity; and the system messages joins and leaves post."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatroom import services
from chatroom.models import Invite, JoinRequest, Message, RoomMember
from core.errors import Conflict, NotFound, PermissionDenied

pytestmark = pytest.mark.django_db


def _is_member(room, user):
    return RoomMember.objects.filter(room=room, user=user).exists()


def test_creating_a_room_makes_its_owner_an_owner_member(make_room):
    room = make_room()
    assert RoomMember.objects.get(room=room).role == "owner"
    assert RoomMember.objects.get(room=room).user_id == room.owner_id


def test_public_room_joins_directly_and_posts_a_system_message(make_room, make_user):
    room, user = make_room(), make_user()
    member, request = services.room_join(user=user, room=room)
    assert request is None and member.role == "member"
    joined = Message.objects.get(room=room, message_type="system")
    assert joined.metadata == {"event": "joined"} and joined.user_id == user.id
    # Joining again is a no-op, not a second member or message.
    services.room_join(user=user, room=room)
    assert RoomMember.objects.filter(room=room, user=user).count() == 1
    assert Message.objects.filter(room=room, message_type="system").count() == 1


def test_private_room_refuses_a_wrong_or_missing_password(make_room, make_user):
    room = make_room(is_private=True, password="right horse")
    user = make_user()
    for wrong in ("wrong horse", None, ""):
        with pytest.raises(PermissionDenied):
            services.room_join(user=user, room=room, password=wrong)
    assert not _is_member(room, user)
    assert not Message.objects.filter(room=room).exists()
    services.room_join(user=user, room=room, password="right horse")
    assert _is_member(room, user)


def test_invite_lets_its_holder_into_a_private_room_and_counts_uses(make_room, make_user):
    room = make_room(is_private=True, password="right horse")
    invite = services.invite_create(actor=room.owner, room=room, max_uses=2)
    first, second, third = make_user(), make_user(), make_user()
    services.invite_accept(user=first, code=invite.code)
    services.invite_accept(user=second, code=invite.code)
    assert Invite.objects.get(pk=invite.code).uses == 2
    with pytest.raises(PermissionDenied, match="used up"):
        services.invite_accept(user=third, code=invite.code)
    assert not _is_member(room, third)
    assert Invite.objects.get(pk=invite.code).uses == 2


def test_an_expired_or_revoked_invite_is_refused(make_room, make_user):
    room = make_room(is_private=True, password="right horse")
    expired = services.invite_create(actor=room.owner, room=room, max_age_seconds=60)
    Invite.objects.filter(pk=expired.code).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = services.invite_create(actor=room.owner, room=room)
    services.invite_revoke(actor=room.owner, invite=revoked)
    user = make_user()
    with pytest.raises(PermissionDenied, match="expired"):
        services.invite_accept(user=user, code=expired.code)
    with pytest.raises(PermissionDenied, match="revoked"):
        services.invite_accept(user=user, code=revoked.code)
    with pytest.raises(NotFound):
        services.invite_accept(user=user, code="no-such-code")
    assert not _is_member(room, user)


def test_an_invite_for_another_room_does_not_open_this_one(make_room, make_user):
    room = make_room(is_private=True, password="right horse")
    other = make_room()
    invite = services.invite_create(actor=other.owner, room=other)
    with pytest.raises(NotFound):
        services.room_join(user=make_user(), room=room, invite_code=invite.code)


def test_members_invite_only_while_the_room_allows_invites(make_room, member_of):
    room = make_room(allow_invites=False)
    member = member_of(room, "member")
    admin = member_of(room, "admin")
    with pytest.raises(PermissionDenied):
        services.invite_create(actor=member, room=room)
    assert services.invite_create(actor=admin, room=room).code


def test_approval_flow(make_room, make_user, member_of):
    room = make_room(require_approval=True)
    moderator = member_of(room, "moderator")
    plain = member_of(room, "member")
    alice, bob = make_user(), make_user()

    member, request = services.room_join(user=alice, room=room)
    assert member is None and request.status == "pending"
    # Asking twice keeps one pending request.
    assert services.room_join(user=alice, room=room)[1].pk == request.pk
    assert not _is_member(room, alice)

    with pytest.raises(PermissionDenied):  # members do not decide
        services.join_request_decide(actor=plain, request=request, approve=True)
    services.join_request_decide(actor=moderator, request=request, approve=True)
    assert _is_member(room, alice)
    with pytest.raises(Conflict):  # decided once
        services.join_request_decide(actor=moderator, request=request, approve=False)

    _, bob_request = services.room_join(user=bob, room=room)
    services.join_request_decide(actor=room.owner, request=bob_request, approve=False)
    assert JoinRequest.objects.get(pk=bob_request.pk).status == "rejected"
    assert not _is_member(room, bob)


def test_a_full_room_refuses_the_next_member(make_room, make_user):
    room = make_room(max_members=2)
    services.room_join(user=make_user(), room=room)
    late = make_user()
    with pytest.raises(Conflict, match="full"):
        services.room_join(user=late, room=room)
    assert not _is_member(room, late)


def test_leaving_posts_a_system_message_and_ends_membership(make_room, member_of):
    room = make_room()
    user = member_of(room)
    services.room_leave(user=user, room=room)
    assert not _is_member(room, user)
    assert Message.objects.filter(room=room, metadata__event="left", user=user).exists()


def test_an_archived_room_takes_no_joins_or_posts(make_room, make_user):
    room = make_room()
    services.room_update(actor=room.owner, room=room, archived=True)
    with pytest.raises(Conflict):
        services.room_join(user=make_user(), room=room)
    with pytest.raises(Conflict):
        services.message_post(actor=room.owner, room=room, content="anyone?")
