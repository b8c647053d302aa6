"""What each room role may and may not do (the issue's table), through the
services, the one place the rules are enforced."""

import pytest

from chatroom import services
from chatroom.models import Message, RoomMember
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "moderator", "member"]


@pytest.fixture
def room_roles(make_room, member_of, make_user):
    owner = make_user()
    room = make_room(owner=owner)
    people = {"owner": owner}
    for role in ("admin", "moderator", "member"):
        people[role] = member_of(room, role)
    return room, people


def _actor(people, role):
    return people[role]


# -- posting, reacting, own messages: everyone ----------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_posts_reacts_and_edits_and_deletes_its_own(room_roles, role):
    room, people = room_roles
    me = people[role]
    message = services.message_post(actor=me, room=room, content=f"hi from {role}")
    services.reaction_add(actor=me, message_id=message.id, emoji="👍")
    edited = services.message_edit(actor=me, message_id=message.id, content="changed")
    assert edited.content == "changed" and edited.is_edited
    services.message_delete(actor=me, message_id=message.id)
    assert Message.objects.get(id=message.id).is_deleted


@pytest.mark.parametrize("role", ROLES)
def test_nobody_edits_someone_elses_message(room_roles, role):
    room, people = room_roles
    other = people["member"] if role != "member" else people["moderator"]
    message = services.message_post(actor=other, room=room, content="mine")
    with pytest.raises(PermissionDenied):
        services.message_edit(actor=people[role], message_id=message.id, content="yours now")
    assert Message.objects.get(id=message.id).content == "mine"


# -- moderation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role,allowed", [("owner", True), ("admin", True), ("moderator", True), ("member", False)])
def test_deleting_others_messages_needs_moderator(room_roles, make_user, member_of, role, allowed):
    room, people = room_roles
    author = member_of(room, "member")
    message = services.message_post(actor=author, room=room, content="spam")
    if allowed:
        services.message_delete(actor=people[role], message_id=message.id)
        assert Message.objects.get(id=message.id).is_deleted
    else:
        with pytest.raises(PermissionDenied):
            services.message_delete(actor=people[role], message_id=message.id)
        assert not Message.objects.get(id=message.id).is_deleted


@pytest.mark.parametrize("role,allowed", [("owner", True), ("admin", True), ("moderator", True), ("member", False)])
def test_kick_and_mute_need_moderator_and_go_downwards(room_roles, member_of, role, allowed):
    room, people = room_roles
    target = member_of(room, "member")
    victim = member_of(room, "member")
    if allowed:
        services.member_update(actor=people[role], room=room, user=target, is_muted=True)
        assert RoomMember.objects.get(room=room, user=target).is_muted
        services.member_kick(actor=people[role], room=room, user=victim)
        assert not RoomMember.objects.filter(room=room, user=victim).exists()
        assert Message.objects.filter(room=room, message_type="system", metadata__event="kicked").exists()
    else:
        with pytest.raises(PermissionDenied):
            services.member_update(actor=people[role], room=room, user=target, is_muted=True)
        with pytest.raises(PermissionDenied):
            services.member_kick(actor=people[role], room=room, user=victim)
        assert RoomMember.objects.filter(room=room, user=victim).exists()


def test_moderator_cannot_kick_or_mute_an_admin_or_another_moderator(room_roles, member_of):
    room, people = room_roles
    other_mod = member_of(room, "moderator")
    for target in (people["admin"], other_mod, people["owner"]):
        with pytest.raises(PermissionDenied):
            services.member_kick(actor=people["moderator"], room=room, user=target)
        with pytest.raises(PermissionDenied):
            services.member_update(actor=people["moderator"], room=room, user=target, is_muted=True)


def test_a_muted_member_cannot_post(room_roles):
    room, people = room_roles
    services.member_update(actor=people["moderator"], room=room, user=people["member"], is_muted=True)
    with pytest.raises(PermissionDenied):
        services.message_post(actor=people["member"], room=room, content="let me speak")
    assert not Message.objects.filter(room=room, user=people["member"], message_type="text").exists()


@pytest.mark.parametrize("role,allowed", [("owner", True), ("admin", True), ("moderator", True), ("member", False)])
def test_pinning_needs_moderator(room_roles, role, allowed):
    room, people = room_roles
    message = services.message_post(actor=people["member"], room=room, content="pin me")
    if allowed:
        assert services.message_pin(actor=people[role], message_id=message.id).is_pinned
    else:
        with pytest.raises(PermissionDenied):
            services.message_pin(actor=people[role], message_id=message.id)


# -- settings and roles ----------------------------------------------------------------------------


@pytest.mark.parametrize("role,allowed", [("owner", True), ("admin", True), ("moderator", False), ("member", False)])
def test_changing_settings_needs_admin(room_roles, role, allowed):
    room, people = room_roles
    if allowed:
        services.room_update(actor=people[role], room=room, description="new words", name="renamed-room")
        room.refresh_from_db()
        assert room.description == "new words"
        # A rename posts a system message.
        assert Message.objects.filter(room=room, message_type="system", metadata__event="renamed").exists()
    else:
        with pytest.raises(PermissionDenied):
            services.room_update(actor=people[role], room=room, description="new words")
        room.refresh_from_db()
        assert room.description == ""


def test_admin_assigns_roles_below_admin_only(room_roles, member_of):
    room, people = room_roles
    target = member_of(room, "member")
    services.member_update(actor=people["admin"], room=room, user=target, role="moderator")
    assert RoomMember.objects.get(room=room, user=target).role == "moderator"
    with pytest.raises(PermissionDenied):
        services.member_update(actor=people["admin"], room=room, user=target, role="admin")
    other_admin = member_of(room, "admin")
    with pytest.raises(PermissionDenied):  # not downwards
        services.member_update(actor=people["admin"], room=room, user=other_admin, role="member")
    with pytest.raises(ValidationFailed):
        services.member_update(actor=people["owner"], room=room, user=target, role="owner")
    # The owner may make admins.
    services.member_update(actor=people["owner"], room=room, user=target, role="admin")
    assert RoomMember.objects.get(room=room, user=target).role == "admin"


@pytest.mark.parametrize("role", ["moderator", "member"])
def test_moderators_and_members_assign_no_roles(room_roles, member_of, role):
    room, people = room_roles
    target = member_of(room, "member")
    with pytest.raises(PermissionDenied):
        services.member_update(actor=people[role], room=room, user=target, role="moderator")
    assert RoomMember.objects.get(room=room, user=target).role == "member"


@pytest.mark.parametrize("role", ["admin", "moderator", "member"])
def test_only_the_owner_deletes_the_room_or_transfers_it(room_roles, role):
    room, people = room_roles
    with pytest.raises(PermissionDenied):
        services.room_delete(actor=people[role], room=room)
    with pytest.raises(PermissionDenied):
        services.room_transfer_ownership(actor=people[role], room=room, new_owner=people[role])
    assert RoomMember.objects.get(room=room, user=people["owner"]).role == "owner"


def test_owner_transfers_ownership_then_deletes(room_roles):
    room, people = room_roles
    services.room_transfer_ownership(actor=people["owner"], room=room, new_owner=people["admin"])
    room.refresh_from_db()
    assert room.owner_id == people["admin"].id
    assert RoomMember.objects.get(room=room, user=people["owner"]).role == "admin"
    assert RoomMember.objects.get(room=room, user=people["admin"]).role == "owner"
    with pytest.raises(Conflict):  # the owner cannot simply leave
        services.room_leave(user=people["admin"], room=room)
    services.room_delete(actor=people["admin"], room=room)
    assert not type(room).objects.filter(id=room.id).exists()


def test_a_permission_override_beats_the_role(room_roles):
    room, people = room_roles
    # An admin takes posting away from one member, and gives another pinning.
    services.member_update(actor=people["admin"], room=room, user=people["member"], permissions={"post": False})
    with pytest.raises(PermissionDenied):
        services.message_post(actor=people["member"], room=room, content="hello")
    services.member_update(actor=people["owner"], room=room, user=people["moderator"], permissions={"pin": False})
    message = services.message_post(actor=people["admin"], room=room, content="x")
    with pytest.raises(PermissionDenied):
        services.message_pin(actor=people["moderator"], message_id=message.id)
    with pytest.raises(ValidationFailed):  # owner-only powers are never handed out
        services.member_update(actor=people["owner"], room=room, user=people["admin"], permissions={"delete_room": True})


def test_a_non_member_can_do_nothing(room_roles, make_user):
    room, people = room_roles
    stranger = make_user()
    message = services.message_post(actor=people["member"], room=room, content="members only")
    with pytest.raises(PermissionDenied):
        services.message_post(actor=stranger, room=room, content="let me in")
    with pytest.raises(NotFound):  # a message in a room you are not in does not exist for you
        services.reaction_add(actor=stranger, message_id=message.id, emoji="👍")
    with pytest.raises(PermissionDenied):
        services.read_mark(actor=stranger, room=room, message_id=message.id)
