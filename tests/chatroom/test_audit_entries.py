"""Every chat change writes one audit entry in its own transaction; a refused
change writes none. Message text never goes into the audit trail."""

import pytest

from audit.models import AuditLog
from chatroom import services
from core.errors import PermissionDenied

pytestmark = pytest.mark.django_db


def _actions():
    return list(AuditLog.objects.filter(action__regex=r"^(room|message|reaction|attachment)\.")
                .order_by("created_at").values_list("action", flat=True))


def test_each_change_is_audited_once(make_room, make_user):
    room = make_room()
    bob = make_user()
    services.room_join(user=bob, room=room)
    message = services.message_post(actor=bob, room=room, content="top secret words")
    services.message_post(actor=bob, room=room, content="dupe?", client_id="c")
    services.message_post(actor=bob, room=room, content="dupe?", client_id="c")  # no new entry
    services.reaction_add(actor=room.owner, message_id=message.id, emoji="👍")
    services.message_edit(actor=bob, message_id=message.id, content="other secret words")
    services.message_pin(actor=room.owner, message_id=message.id)
    services.message_delete(actor=room.owner, message_id=message.id)
    services.member_kick(actor=room.owner, room=room, user=bob)
    assert _actions() == [
        "room.created", "room.member.joined", "message.posted", "message.posted", "reaction.added",
        "message.edited", "message.pinned", "message.deleted", "room.member.kicked",
    ]
    dumped = " ".join(str(d) for d in AuditLog.objects.values_list("details", flat=True))
    assert "secret" not in dumped


def test_a_refused_change_leaves_no_entry(make_room, make_user):
    room = make_room(is_private=True, password="right horse")
    before = _actions()
    with pytest.raises(PermissionDenied):
        services.room_join(user=make_user(), room=room, password="wrong")
    with pytest.raises(PermissionDenied):
        services.message_post(actor=make_user(), room=room, content="not a member")
    assert _actions() == before


def test_updates_record_what_changed_as_old_and_new(make_room, make_user):
    room = make_room(name="before-name")
    bob = make_user()
    services.room_join(user=bob, room=room)
    services.room_update(actor=room.owner, room=room, name="after-name", description=room.description,
                         max_members=50)
    services.room_update(actor=room.owner, room=room, is_private=True, password="a secret")
    services.room_update(actor=room.owner, room=room, password="another secret")
    services.member_update(actor=room.owner, room=room, user=bob, role="moderator", is_muted=False)
    services.member_update(actor=bob, room=room, user=bob, notifications_enabled=False)
    updates = [e.details for e in AuditLog.objects.filter(action="room.updated").order_by("created_at")]
    assert updates == [
        {"room_id": str(room.id), "name": {"old": "before-name", "new": "after-name"},
         "max_members": {"old": 1000, "new": 50}},  # unchanged description: not recorded
        {"room_id": str(room.id), "is_private": {"old": False, "new": True}},
        {"room_id": str(room.id), "password": {"old": "***", "new": "***"}},
    ]
    members = [e.details for e in AuditLog.objects.filter(action="room.member.updated").order_by("created_at")]
    assert members == [
        {"room_id": str(room.id), "user_id": str(bob.id), "role": {"old": "member", "new": "moderator"}},
        {"room_id": str(room.id), "user_id": str(bob.id), "notify_level": {"old": "all", "new": "none"}, "notifications_enabled": {"old": True, "new": False}},
    ]
    assert "secret" not in str(updates)


def test_a_member_update_with_nothing_changed_writes_nothing(make_room, make_user):
    room = make_room()
    bob = make_user()
    services.room_join(user=bob, room=room)
    services.member_update(actor=room.owner, room=room, user=bob, is_muted=False, role="member")
    services.room_update(actor=room.owner, room=room, name=room.name)
    assert not AuditLog.objects.filter(action__in=["room.member.updated", "room.updated"]).exists()
