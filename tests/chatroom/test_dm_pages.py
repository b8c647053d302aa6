"""DMs on the pages and in the admin (issue 16): the "Direct messages"
section, the Message buttons (profile, directory, member list), the group
picker, blocking from a profile; a third person gets a 404; staff see that
a DM exists, its people and message count, never its messages, and export
it for a legal hold, which is audited."""

import json

import pytest
from django.test import Client

from audit.models import AuditLog
from chatroom import services
from chatroom.models import Room, UserBlock
from core.errors import NotFound, PermissionDenied
from orgs.models import Role as OrgRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_room, member_of, make_user):
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    return alice, member_of(lobby, username="bob"), member_of(lobby, username="carol")


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_message_button_on_a_profile_opens_the_dm_and_lists_it(people):
    alice, bob, _ = people
    page = logged_in(alice).get(f"/chat/people/{bob.id}/")
    assert page.status_code == 200 and b'data-testid="message-button"' in page.content
    opened = logged_in(alice).post("/chat/dm/", {"user_ids": [str(bob.id)]})
    room = Room.objects.get(kind="dm")
    assert opened.status_code == 302 and opened["Location"] == f"/chat/rooms/{room.id}/"
    services.message_post(actor=alice, room=room, content="hello bob")
    listing = logged_in(bob).get("/chat/").content.decode()
    assert 'data-testid="dm-list"' in listing and ">alice</span>" in listing
    view = logged_in(bob).get(f"/chat/rooms/{room.id}/").content.decode()
    assert 'data-testid="dm-title"' in view and "#" + "" not in view.split("<title>")[1].split("</title>")[0]


def test_group_picker_and_its_errors(people, make_user):
    alice, bob, carol = people
    client = logged_in(alice)
    made = client.post("/chat/dm/", {"user_ids": [str(bob.id)], "usernames": "carol"})
    room = Room.objects.get(kind="group_dm")
    assert made["Location"] == f"/chat/rooms/{room.id}/"
    nobody = client.post("/chat/dm/", {"usernames": "nosuchuser"}, follow=True)
    assert "No user" in nobody.content.decode()
    empty = client.post("/chat/dm/", {}, follow=True)
    assert "Choose at least one person" in empty.content.decode()
    stranger = make_user("eve")
    refused = client.post("/chat/dm/", {"user_ids": [str(stranger.id)]}, follow=True)
    assert "share an organization or a room" in refused.content.decode()
    assert Room.objects.filter(kind__in=["dm", "group_dm"]).count() == 1


def test_a_third_person_gets_404_for_a_dm_page(people, make_user):
    alice, bob, carol = people
    room, _ = services.dm_open(actor=alice, user_ids=[str(bob.id)])
    staff = make_user("root", is_staff=True)
    for outsider in (carol, staff):
        assert logged_in(outsider).get(f"/chat/rooms/{room.id}/").status_code == 404
        assert logged_in(outsider).post(f"/chat/rooms/{room.id}/join").status_code == 302
        assert not room.members.filter(user=outsider).exists()
        assert b"dm-list" not in logged_in(outsider).get("/chat/").content


def test_block_and_unblock_from_a_profile(people):
    alice, bob, _ = people
    client = logged_in(bob)
    client.post(f"/chat/people/{alice.id}/", {"op": "block"})
    assert UserBlock.objects.filter(blocker=bob, blocked=alice).exists()
    assert b'data-testid="blocked-note"' in client.get(f"/chat/people/{alice.id}/").content
    refused = logged_in(alice).post("/chat/dm/", {"user_ids": [str(bob.id)]}, follow=True)
    assert "You cannot message this person" in refused.content.decode()
    client.post(f"/chat/people/{alice.id}/", {"op": "unblock"})
    assert not UserBlock.objects.exists()
    assert logged_in(bob).get("/chat/people/00000000-0000-0000-0000-000000000001/").status_code == 404


def test_directory_has_message_buttons_and_org_members_may_dm(make_user):
    from orgs import services as org_services

    alice, bob = make_user("alice"), make_user("bob")
    org = org_services.org_create(owner=alice, name="acme")
    member = OrgRole.objects.system("member")
    org_services.member_add(actor=alice, org=org, user=bob, role=member)
    page = logged_in(alice).get(f"/orgs/{org.id}/members/").content.decode()
    assert 'data-testid="message-bob"' in page and 'data-testid="message-alice"' not in page
    # Sharing the organization (and no room) is enough under DM_POLICY=shared.
    opened = logged_in(alice).post("/chat/dm/", {"user_ids": [str(bob.id)], "next": f"/orgs/{org.id}/members/"})
    assert opened["Location"] == f"/chat/rooms/{Room.objects.get(kind='dm').id}/"


def test_admin_shows_a_dm_but_not_its_messages_and_exports_it_audited(people, make_user):
    alice, bob, _ = people
    room, _ = services.dm_open(actor=alice, user_ids=[str(bob.id)])
    services.message_post(actor=alice, room=room, content="the secret merger")
    services.message_post(actor=bob, room=room, content="shh")
    staff = make_user("root", is_staff=True, is_superuser=True)
    admin = logged_in(staff)
    listing = admin.get("/admin/chatroom/room/", {"kind__exact": "dm"}).content.decode()
    assert "alice, bob" in listing and "secret merger" not in listing
    change = admin.get(f"/admin/chatroom/room/{room.id}/change/").content.decode()
    assert "secret merger" not in change and ">2<" in change.replace(" ", "")
    # Saving the change form changes nothing of a DM (it is shown view-only).
    saved = admin.post(f"/admin/chatroom/room/{room.id}/change/", {"name": "renamed"})
    assert saved.status_code == 403 and Room.objects.get(pk=room.pk).name == ""
    messages = admin.get("/admin/chatroom/message/", {"q": "secret"}).content.decode()
    assert "secret merger" not in messages
    assert admin.get("/admin/chatroom/message/").content.decode().count("secret merger") == 0

    response = admin.post("/admin/chatroom/room/", {"action": "export_legal_hold", "_selected_action": [str(room.id)]})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    export = json.loads(response.content)["exports"][0]
    assert [m["content"] for m in export["messages"]] == ["the secret merger", "shh"]
    assert {p["username"] for p in export["participants"]} == {"alice", "bob"}
    entry = AuditLog.objects.get(action="room.dm.exported")
    assert entry.actor_id == staff.id and entry.details["messages"] == 2 and entry.details["staff"] is True


def test_the_export_is_for_staff_and_dms_only(people, make_room, make_user):
    alice, bob, _ = people
    room, _ = services.dm_open(actor=alice, user_ids=[str(bob.id)])
    with pytest.raises(PermissionDenied):
        services.dm_legal_hold_export(actor=alice, room=room)
    staff = make_user("root", is_staff=True, is_superuser=True)
    with pytest.raises(NotFound):
        services.dm_legal_hold_export(actor=staff, room=make_room(name="a-channel"))
    assert not AuditLog.objects.filter(action="room.dm.exported").exists()


def test_search_page_finds_dm_messages_for_its_people_only(people):
    alice, bob, carol = people
    room, _ = services.dm_open(actor=alice, user_ids=[str(bob.id)])
    services.message_post(actor=alice, room=room, content="quarterly numbers")
    page = logged_in(bob).get("/chat/search/", {"q": "quarterly"}).content.decode()
    assert "quarterly" in page and f'<option value="{room.id}"' in page and ">alice</option>" in page
    other = logged_in(carol).get("/chat/search/", {"q": "quarterly"}).content.decode()
    assert "quarterly numbers" not in other and str(room.id) not in other
