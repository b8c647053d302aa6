"""What the room page hands its message scripts: the read cursor (for the
"new messages" divider), the upload limit, and the per-user desktop
notification switch, which is profile.preferences.desktop_notifications as
saved through PATCH /api/v1/me (other preferences kept)."""

import json
import re

import pytest

from chatroom.services import message_post, read_mark

pytestmark = pytest.mark.django_db


def _config(client, room):
    page = client.get(f"/chat/rooms/{room.id}/").content.decode()
    found = re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', page, re.DOTALL)
    return json.loads(found.group(1))


def test_the_page_carries_the_read_cursor_and_the_upload_limit(pair, client, settings):
    room, alice, bob = pair
    first = message_post(actor=bob, room=room, content="one")
    message_post(actor=bob, room=room, content="two")
    client.force_login(alice)
    read_mark(actor=alice, room=room, message_id=first.id)
    config = _config(client, room)
    assert config["lastRead"]["id"] == str(first.id) and config["lastRead"]["at"].startswith(str(first.created_at.year))
    assert config["uploadMaxBytes"] == settings.CHAT_UPLOAD_MAX_BYTES


def test_the_desktop_notification_switch_is_a_profile_preference(pair, client, api_as):
    room, alice, bob = pair
    client.force_login(alice)
    assert _config(client, room)["desktopNotifications"] is False
    api = api_as(alice)
    api.patch("/api/v1/me", {"preferences": {"send_read_receipts": False}}, format="json")
    me = api.get("/api/v1/me").json()
    preferences = {**me["profile"]["preferences"], "desktop_notifications": True}
    assert api.patch("/api/v1/me", {"preferences": preferences}, format="json").status_code == 200
    assert _config(client, room)["desktopNotifications"] is True
    kept = api.get("/api/v1/me").json()["profile"]["preferences"]
    assert kept == {"send_read_receipts": False, "desktop_notifications": True}
