"""The Scheduled page (/chat/scheduled/): the user's own by status, times in
their profile's zone, edit and cancel through the services, refusals shown
as messages, and the room page's send-later menu and receipts config."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.services import profile_update
from chatroom import services
from chatroom.models import ScheduledMessage
from chatroom.services import scheduled_messages

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def scheduled(pair):
    room, alice, bob = pair
    profile_update(actor=alice, user=alice, timezone="Asia/Seoul")
    item = scheduled_messages.scheduled_create(actor=alice, room_id=room.id, content="ping <b>later</b>",
                                               send_at=timezone.now() + timedelta(hours=3))
    return room, alice, bob, item


def test_lists_own_messages_escaped_in_the_users_zone(scheduled, client):
    room, alice, bob, item = scheduled
    client.force_login(alice)
    page = client.get("/chat/scheduled/").content.decode()
    assert "ping &lt;b&gt;later&lt;/b&gt;" in page and "<b>later" not in page
    assert "Asia/Seoul" in page
    local = timezone.localtime(item.send_at, SEOUL)
    assert local.strftime("%Y-%m-%dT%H:%M") in page  # the edit form's datetime-local value
    client.force_login(bob)
    assert "ping &lt;b&gt;" not in client.get("/chat/scheduled/").content.decode()


def test_edit_and_cancel_through_the_page(scheduled, client):
    room, alice, bob, item = scheduled
    client.force_login(alice)
    response = client.post(f"/chat/scheduled/{item.id}/edit", {"content": "changed", "send_at": "2000-01-01T09:00"},
                           follow=True)
    assert "Must be in the future." in response.content.decode()
    assert ScheduledMessage.objects.get(id=item.id).content == "ping <b>later</b>"
    tomorrow = (timezone.localtime(timezone.now(), SEOUL)
                + timedelta(days=1)).strftime("%Y-%m-%d") + "T09:00"
    client.post(f"/chat/scheduled/{item.id}/edit", {"content": "changed", "send_at": tomorrow})
    item.refresh_from_db()
    assert item.content == "changed"
    assert timezone.localtime(item.send_at, SEOUL).strftime("%H:%M") == "09:00"
    # bob cannot cancel alice's
    client.force_login(bob)
    response = client.post(f"/chat/scheduled/{item.id}/cancel", follow=True)
    assert "No such scheduled message." in response.content.decode()
    client.force_login(alice)
    client.post(f"/chat/scheduled/{item.id}/cancel")
    assert ScheduledMessage.objects.get(id=item.id).status == "cancelled"
    assert "changed" in client.get("/chat/scheduled/?status=cancelled").content.decode()


def test_room_page_has_the_menu_and_receipt_cursors(pair, client):
    room, alice, bob = pair
    message = services.message_post(actor=alice, room=room, content="hi")
    services.read_mark(actor=bob, room=room, message_id=message.id)
    client.force_login(alice)
    page = client.get(f"/chat/rooms/{room.id}/").content.decode()
    assert 'data-testid="send-later-toggle"' in page
    config = json.loads(page.split('<script id="receipts-config" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert config["enabled"] is True
    assert [(c["user"]["username"], c["message_id"]) for c in config["cursors"]] == [("bob", str(message.id))]
