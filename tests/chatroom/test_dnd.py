"""Do not disturb (issue 18): the rule (until a time, a daily schedule in the
user's time zone), the API with its refusals, the socket (ready's user, the
live ``dnd`` frame to others), the members API's marker, the DM composer's
warning and the room's notification menu on the page, and the profile page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts import dnd
from accounts.models import Profile
from chatroom import services
from chatroom.models import RoomMember
from tests.chatroom.live_helpers import connect, until

pytestmark = pytest.mark.django_db


def at(hour, minute=0):
    return datetime(2026, 6, 1, hour, minute, tzinfo=dt_timezone.utc)


def test_the_rule_until_a_time_and_a_daily_schedule_across_midnight_in_the_users_zone():
    night = {"dnd_schedule": {"start": "22:00", "end": "08:00"}}
    # Seoul is UTC+9: 14:00 UTC is 23:00 there, in the quiet hours until 08:00 (23:00 UTC).
    state = dnd.dnd_state(night, "Asia/Seoul", now=at(14))
    assert state["active"] and state["ends_at"] == "2026-06-01T23:00:00Z"
    assert not dnd.dnd_state(night, "Asia/Seoul", now=at(3))["active"]  # 12:00 in Seoul
    assert dnd.dnd_state(night, "UTC", now=at(7, 59))["active"] and not dnd.dnd_state(night, "UTC", now=at(8))["active"]
    lunch = {"dnd_schedule": {"start": "12:00", "end": "13:00"}}
    assert dnd.dnd_state(lunch, "UTC", now=at(12, 30))["active"] and not dnd.dnd_state(lunch, "UTC", now=at(13))["active"]
    timed = {"dnd_until": "2026-06-01T10:00:00Z"}
    assert dnd.dnd_state(timed, "UTC", now=at(9))["active"] and not dnd.dnd_state(timed, "UTC", now=at(10))["active"]
    assert not dnd.dnd_state({"dnd_until": "garbage", "dnd_schedule": "x"}, "Nowhere/Zone", now=at(9))["active"]


def test_the_api_sets_and_clears_dnd_and_refuses_bad_values(make_user, api_as):
    bob = make_user("bob")
    client = api_as(bob)
    assert client.get("/api/v1/me/dnd").json()["active"] is False
    soon = (timezone.now() + timedelta(hours=2)).isoformat()
    set_ = client.put("/api/v1/me/dnd", {"until": soon}, format="json")
    assert set_.status_code == 200 and set_.json()["active"] is True
    for body, field in (({"until": "yesterday"}, "until"), ({"until": "2020-01-01T00:00:00Z"}, "until"),
                        ({"schedule": {"start": "25:00", "end": "08:00"}}, "schedule"),
                        ({"schedule": {"start": "08:00", "end": "08:00"}}, "schedule")):
        bad = client.put("/api/v1/me/dnd", body, format="json")
        assert bad.status_code == 400 and field in bad.json()["error"]["fields"], body
    cleared = client.put("/api/v1/me/dnd", {"until": None, "schedule": {"start": "22:00", "end": "08:00"}},
                         format="json").json()
    assert cleared["until"] is None and cleared["schedule"] == {"start": "22:00", "end": "08:00"}
    assert Profile.objects.get(user=bob).preferences["dnd_schedule"] == {"start": "22:00", "end": "08:00"}


def test_members_show_who_is_in_dnd_and_in_app_notifications_are_still_stored(pair, api_as):
    room, alice, bob = pair
    dnd.dnd_set(actor=bob, until=timezone.now() + timedelta(hours=1))
    members = api_as(alice).get(f"/api/v1/rooms/{room.id}/members/").json()["results"]
    assert {m["user"]["username"]: m["dnd"] for m in members} == {"alice": False, "bob": True}
    services.message_post(actor=alice, room=room, content="@bob hi")
    assert bob.notifications.filter(type="mention").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_ready_carries_own_dnd_and_others_get_the_dnd_frame_live(pair):
    room, alice, bob = pair
    await sync_to_async(dnd.dnd_set)(actor=bob, schedule={"start": "00:00", "end": "23:59"})
    bob_socket, ready = await connect(bob)
    alice_socket, _ = await connect(alice)
    try:
        assert ready["user"]["dnd"]["schedule"] == {"start": "00:00", "end": "23:59"}
        await sync_to_async(dnd.dnd_set)(actor=bob, until=timezone.now() + timedelta(hours=1))
        frame = await until(alice_socket, "dnd")
        assert frame["user_id"] == str(bob.id) and frame["active"] is True and frame["ends_at"]
        own = await until(bob_socket, "dnd")
        assert own["active"] is True
    finally:
        await bob_socket.disconnect()
        await alice_socket.disconnect()


def test_the_dm_page_warns_that_the_recipient_is_in_dnd(client, pair):
    room, alice, bob = pair  # they share a room, so they may open a DM
    dm, _ = services.dm_open(actor=alice, user_ids=[bob.id])
    client.force_login(alice)
    page = client.get(f"/chat/rooms/{dm.id}/").content.decode()
    assert 'data-testid="dnd-warning"' in page and 'hidden>' in page.split('data-testid="dnd-warning"')[1][:200]
    dnd.dnd_set(actor=bob, until=timezone.now() + timedelta(hours=1))
    page = client.get(f"/chat/rooms/{dm.id}/").content.decode()
    warning = page.split('data-testid="dnd-warning"')[1].split("</p>")[0]
    assert "<strong>bob</strong> is in do not disturb until" in warning and "hidden" not in warning[:40]


def test_the_room_menu_sets_the_notify_level(client, pair):
    room, alice, bob = pair
    client.force_login(bob)
    page = client.get(f"/chat/rooms/{room.id}/").content.decode()
    assert 'data-testid="notify-menu"' in page
    assert client.post(f"/chat/rooms/{room.id}/notify", {"notify_level": "none"}).status_code == 302
    member = RoomMember.objects.get(room=room, user=bob)
    assert member.notify_level == "none" and member.notifications_enabled is False
    assert "Muted" in client.get(f"/chat/rooms/{room.id}/").content.decode()
    client.post(f"/chat/rooms/{room.id}/notify", {"notify_level": "loud"})
    assert RoomMember.objects.get(room=room, user=bob).notify_level == "none"  # refused, unchanged


def test_the_profile_page_sets_dnd_and_the_mail_switch(client, make_user):
    bob = make_user("bob")
    client.force_login(bob)
    page = client.get("/accounts/profile/").content.decode()
    assert 'data-testid="dnd-settings"' in page and "Off." in page
    r = client.post("/accounts/profile/dnd/", {"pause": "1h", "scheduled": "on", "start": "22:00", "end": "07:30"})
    assert r.status_code == 302
    prefs = Profile.objects.get(user=bob).preferences
    assert prefs["dnd_schedule"] == {"start": "22:00", "end": "07:30"} and prefs["email_notifications"] is False
    assert dnd.state_of(bob)["active"]
    page = client.get("/accounts/profile/").content.decode()
    assert "On until" in page and "every day 22:00–07:30" in page
    client.post("/accounts/profile/dnd/", {"pause": "off", "email_notifications": "on"})
    prefs = Profile.objects.get(user=bob).preferences
    assert prefs["dnd_until"] is None and prefs.get("dnd_schedule") is None and prefs["email_notifications"] is True
    bad = client.post("/accounts/profile/dnd/", {"pause": "custom", "until": ""}, follow=True).content.decode()
    assert "Do not disturb was not changed" in bad
