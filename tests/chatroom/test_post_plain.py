"""Plain messages through chat_message_post (migration 0006): one call
judges the post on the membership as it is under the posting lock, so a
membership that changed since the last post (muted, kicked, a permission
override, an archived room) refuses the next one, and nothing is stored."""

import pytest

from audit.models import AuditLog
from audit.verification import verify
from chatroom import services
from chatroom.models import Message, MessageClientId, RoomMember
from core.errors import Conflict, PermissionDenied

pytestmark = pytest.mark.django_db


def _post(user, room, text, client_id=None):
    return services.message_post(actor=user, room=room, content=text, client_id=client_id)


def test_a_plain_post_is_stored_audited_and_keeps_the_chain_intact(make_room, member_of):
    room = make_room()
    alice = member_of(room)
    first = _post(alice, room, "first", client_id="c1")
    second = _post(alice, room, "second")

    stored = list(Message.objects.filter(room=room, message_type="text").order_by("created_at"))
    assert [m.content for m in stored] == ["first", "second"]
    assert stored[0].created_at == first.created_at and stored[0].updated_at == first.created_at
    assert second.prev_cursor is not None and first.created_at < second.created_at
    assert MessageClientId.objects.get(user=alice, client_id="c1").message_id == first.id
    entry = AuditLog.objects.filter(action="message.posted", resource_id=str(first.id)).get()
    assert entry.actor_id == alice.id
    assert entry.details == {"room_id": str(room.id), "message_type": "text", "reply_to": None,
                             "attachments": 0, "mentions": 0}
    assert verify().ok


@pytest.mark.parametrize("change, refusal", [
    (lambda room, user: RoomMember.objects.filter(room=room, user=user).update(is_muted=True), PermissionDenied),
    (lambda room, user: RoomMember.objects.filter(room=room, user=user).delete(), PermissionDenied),
    (lambda room, user: RoomMember.objects.filter(room=room, user=user).update(permissions={"post": False}),
     PermissionDenied),
    (lambda room, user: type(room).objects.filter(pk=room.pk).update(archived=True), Conflict),
])
def test_a_membership_changed_since_it_was_read_refuses_the_next_post(make_room, member_of, change, refusal):
    room = make_room()
    bob = member_of(room)
    _post(bob, room, "allowed")  # the membership is now read and remembered
    change(room, bob)
    before = Message.objects.filter(room=room).count()
    audited = AuditLog.objects.filter(action="message.posted").count()

    with pytest.raises(refusal):
        _post(bob, room, "refused", client_id="after-change")

    assert Message.objects.filter(room=room).count() == before
    assert AuditLog.objects.filter(action="message.posted").count() == audited
    assert not MessageClientId.objects.filter(user=bob, client_id="after-change").exists()


def test_a_member_unmuted_since_can_post_again(make_room, member_of):
    room = make_room()
    carol = member_of(room)
    RoomMember.objects.filter(room=room, user=carol).update(is_muted=True)
    with pytest.raises(PermissionDenied):
        _post(carol, room, "muted")
    RoomMember.objects.filter(room=room, user=carol).update(is_muted=False)
    assert _post(carol, room, "free again").content == "free again"
