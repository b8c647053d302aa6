"""The admin: rooms with member inlines, messages searchable and filterable,
and the soft-delete action going through the service."""

import pytest

from audit.models import AuditLog
from chatroom import services
from chatroom.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    staff = make_user(is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_room_and_message_lists_render_and_search(staff_client, make_room):
    room = make_room(name="admin-room")
    services.message_post(actor=room.owner, room=room, content="needle in the admin")
    services.message_post(actor=room.owner, room=room, content="other words")
    assert staff_client.get(f"/admin/chatroom/room/{room.id}/change/").status_code == 200
    listing = staff_client.get("/admin/chatroom/message/", {"q": "needle"})
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "needle in the admin" in html and "other words" not in html
    by_room = staff_client.get("/admin/chatroom/message/", {"room__id__exact": str(room.id)})
    assert by_room.status_code == 200 and "other words" in by_room.content.decode()
    assert staff_client.get("/admin/chatroom/invite/").status_code == 200


def test_soft_delete_action_uses_the_service(staff_client, make_room):
    room = make_room()
    message = services.message_post(actor=room.owner, room=room, content="remove me")
    response = staff_client.post("/admin/chatroom/message/", {
        "action": "soft_delete", "_selected_action": [str(message.id)],
    })
    assert response.status_code == 302
    stored = Message.objects.get(id=message.id)
    assert stored.is_deleted and stored.deleted_by.is_staff
    entry = AuditLog.objects.filter(action="message.deleted", resource_id=str(message.id)).get()
    assert entry.details["via"] == "staff"


def test_staff_override_needs_staff(make_room, member_of):
    from config.errors import PermissionDenied

    room = make_room()
    member = member_of(room)
    message = services.message_post(actor=room.owner, room=room, content="stay")
    with pytest.raises(PermissionDenied):
        services.message_delete(actor=member, message_id=message.id, staff_override=True)
    assert not Message.objects.get(id=message.id).is_deleted
