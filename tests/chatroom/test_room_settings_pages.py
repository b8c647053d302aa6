"""The room settings and members pages: each change goes through the
services, a plain member is refused (403 for the page, a message for a
crafted change) and bad input is a form error, never a 500."""

import pytest

from chatroom.models import Message, Room, RoomMember
from chatroom.services import room_join, member_update

pytestmark = pytest.mark.django_db


def _settings(room):
    return f"/chat/rooms/{room.id}/settings/"


def _members(room):
    return f"/chat/rooms/{room.id}/members/"


def test_owner_renames_sets_topic_and_a_bad_name_is_a_form_error(client, make_user, make_room):
    owner = make_user()
    room = make_room(owner=owner, name="old-name")
    client.force_login(owner)
    page = client.get(_settings(room))
    assert page.status_code == 200 and 'data-testid="settings-transfer"' in page.content.decode()

    done = client.post(_settings(room), {"op": "general", "name": "new-name", "description": "The topic",
                                         "allow_invites": "on"})
    assert done.status_code == 302
    room.refresh_from_db()
    assert (room.name, room.description, room.require_approval) == ("new-name", "The topic", False)
    assert Message.objects.filter(room=room, message_type="system", content__contains="renamed").exists()

    bad = client.post(_settings(room), {"op": "general", "name": "no spaces allowed!", "description": ""})
    assert bad.status_code == 400
    assert 'data-testid="field-error-name"' in bad.content.decode()
    room.refresh_from_db()
    assert room.name == "new-name"


def test_privacy_needs_a_password_and_then_holds(client, make_user, make_room):
    owner = make_user()
    room = make_room(owner=owner)
    client.force_login(owner)
    bad = client.post(_settings(room), {"op": "privacy", "is_private": "on", "password": ""})
    assert bad.status_code == 400 and "A room password has 4 to 128 characters." in bad.content.decode()
    room.refresh_from_db()
    assert not room.is_private
    assert client.post(_settings(room), {"op": "privacy", "is_private": "on", "password": "s3cret pw"}).status_code == 302
    room.refresh_from_db()
    assert room.is_private and room.password_hash


def test_archive_transfer_then_the_old_owner_leaves(client, make_user, make_room):
    owner, bob = make_user(), make_user()
    room = make_room(owner=owner)
    room_join(user=bob, room=room)
    client.force_login(owner)
    client.post(_settings(room), {"op": "archive"})
    room.refresh_from_db()
    assert room.archived
    client.post(_settings(room), {"op": "unarchive"})

    done = client.post(_settings(room), {"op": "transfer", "new_owner": str(bob.id)}, follow=True)
    assert "now owns" in done.content.decode()
    assert RoomMember.objects.get(room=room, user=bob).role == "owner"
    assert RoomMember.objects.get(room=room, user=owner).role == "admin"
    left = client.post(f"/chat/rooms/{room.id}/leave")
    assert left.status_code == 302
    assert not RoomMember.objects.filter(room=room, user=owner).exists()


def test_delete_needs_the_name_typed(client, make_user, make_room):
    owner = make_user()
    room = make_room(owner=owner, name="doomed")
    client.force_login(owner)
    wrong = client.post(_settings(room), {"op": "delete", "confirm": "nope"})
    assert wrong.status_code == 400 and Room.objects.filter(pk=room.pk).exists()
    assert client.post(_settings(room), {"op": "delete", "confirm": "doomed"})["Location"] == "/chat/"
    assert not Room.objects.filter(pk=room.pk).exists()


def test_plain_members_and_strangers_are_refused(client, make_user, make_room):
    owner, plain, stranger = make_user(), make_user(), make_user()
    room = make_room(owner=owner, name="guarded")
    room_join(user=plain, room=room)
    client.force_login(plain)
    assert client.get(_settings(room)).status_code == 403
    refused = client.post(_settings(room), {"op": "general", "name": "taken-over"})
    assert refused.status_code == 403
    kick = client.post(f"/chat/rooms/{room.id}/members/change", {"op": "kick", "user_id": str(owner.id)}, follow=True)
    assert kick.status_code == 200 and "Only moderators and above kick members." in kick.content.decode()
    assert RoomMember.objects.filter(room=room, user=owner).exists()
    # The members page is readable, without controls for a plain member.
    members = client.get(_members(room)).content.decode()
    assert 'data-testid="member-row"' in members and "kick-" not in members
    room.refresh_from_db()
    assert room.name == "guarded"

    client.force_login(stranger)
    assert client.get(_settings(room)).status_code == 404
    assert client.get(_members(room)).status_code == 404
    bad_id = client.post(f"/chat/rooms/{room.id}/members/change", {"op": "kick", "user_id": "not-a-uuid"})
    assert bad_id.status_code == 404


def test_moderator_mutes_and_kicks_below_and_admin_sets_roles(client, make_user, make_room):
    owner, mod, carol, dave = make_user(), make_user(), make_user(), make_user()
    room = make_room(owner=owner)
    for u in (mod, carol, dave):
        room_join(user=u, room=room)
    member_update(actor=owner, room=room, user=mod, role="moderator")
    client.force_login(mod)
    page = client.get(_members(room)).content.decode()
    assert f'data-testid="kick-{carol.username}"' in page and f'data-testid="kick-{owner.username}"' not in page
    assert client.get(_settings(room)).status_code == 403  # moderators moderate; admins change settings
    client.post(f"/chat/rooms/{room.id}/members/change", {"op": "mute", "user_id": str(carol.id)})
    assert RoomMember.objects.get(room=room, user=carol).is_muted
    client.post(f"/chat/rooms/{room.id}/members/change", {"op": "kick", "user_id": str(dave.id)})
    assert not RoomMember.objects.filter(room=room, user=dave).exists()
    up = client.post(f"/chat/rooms/{room.id}/members/change", {"op": "role", "user_id": str(carol.id), "role": "admin"},
                     follow=True)
    assert "You cannot give that role to this member." in up.content.decode()

    client.force_login(owner)
    client.post(f"/chat/rooms/{room.id}/members/change", {"op": "role", "user_id": str(carol.id), "role": "admin"})
    assert RoomMember.objects.get(room=room, user=carol).role == "admin"
    bogus = client.post(f"/chat/rooms/{room.id}/members/change", {"op": "role", "user_id": str(carol.id), "role": "king"},
                        follow=True)
    assert bogus.status_code == 200 and "One of" in bogus.content.decode()


def test_room_header_links_members_and_settings_only_for_those_who_may(client, make_user, make_room):
    owner, plain = make_user(), make_user()
    room = make_room(owner=owner, description="Talk about the weather")
    room_join(user=plain, room=room)
    client.force_login(owner)
    html = client.get(f"/chat/rooms/{room.id}/").content.decode()
    assert 'data-testid="settings-link"' in html and "2 members" in html and "Talk about the weather" in html
    client.force_login(plain)
    html = client.get(f"/chat/rooms/{room.id}/").content.decode()
    assert 'data-testid="settings-link"' not in html and 'data-testid="member-count"' in html


def test_a_dm_has_no_settings_page(client, make_user):
    from chatroom.services import dm_open
    from orgs import services as org_services
    from orgs.models import Role as OrgRole

    a, b = make_user(), make_user()
    org = org_services.org_create(owner=a, name="dm-settings-org")
    org_services.member_add(actor=a, org=org, user=b, role=OrgRole.objects.system("member"))
    dm, _ = dm_open(actor=a, user_ids=[str(b.id)])
    client.force_login(a)
    assert client.get(_settings(dm)).status_code == 403
    assert client.get(_members(dm)).status_code == 200
