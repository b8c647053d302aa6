"""Group mentions (issue 18): @all, @here and department handles, through the
service, the API and the socket, with the refusal of @all/@here by a plain
member in a room of more than 10 members (nothing stored), and the one
set-based statement that stores a large group's mentions."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Notification
from chatroom import services, unread
from chatroom.models import Mention, Message, RoomMember
from core.errors import PermissionDenied
from orgs.models import Department, Membership, Role
from orgs.services import org_create
from tests.chatroom.live_helpers import connect, until

pytestmark = pytest.mark.django_db


def _room_of(make_room, member_of, n, **kwargs):
    room = make_room(**kwargs)
    return room, [member_of(room) for _ in range(n)]


def test_at_all_in_a_small_room_mentions_every_member_and_counts(make_room, member_of):
    room, people = _room_of(make_room, member_of, 4)
    poster = people[0]
    message = services.message_post(actor=poster, room=room, content="lunch? @all")
    reached = set(Mention.objects.filter(message_id=message.id).values_list("user_id", flat=True))
    assert reached == {p.id for p in people[1:]} | {room.owner_id}
    notes = Notification.objects.filter(type="mention")
    assert {n.user_id for n in notes} == reached
    assert all("@all" in n.title and n.data["message_id"] == str(message.id) for n in notes)
    assert unread.counts(people[1])[room.id][1] == 1  # the mention count


def test_a_plain_member_is_refused_at_all_and_at_here_in_a_large_room_and_nothing_is_stored(make_room, member_of):
    room, people = _room_of(make_room, member_of, 11)  # 12 members with the owner
    before = Message.objects.count()
    for word in ("@all", "@here"):
        with pytest.raises(PermissionDenied) as refused:
            services.message_post(actor=people[0], room=room, content=f"hello {word}")
        assert refused.value.code == "group_mention_forbidden" and word in refused.value.message
    assert Message.objects.count() == before and not Mention.objects.exists()
    assert not Notification.objects.exists()
    # The same text without the mention goes out.
    services.message_post(actor=people[0], room=room, content="hello everyone")
    assert Message.objects.count() == before + 1


def test_a_room_admin_may_use_at_all_in_a_large_room(make_room, member_of):
    room, people = _room_of(make_room, member_of, 11)
    RoomMember.objects.filter(room=room, user=people[0]).update(role="admin")
    message = services.message_post(actor=people[0], room=room, content="@all release at 5")
    assert Mention.objects.filter(message_id=message.id).count() == 11


def test_a_group_mention_of_many_is_one_statement_whatever_the_size(make_room, member_of):
    def cost(n):
        room, people = _room_of(make_room, member_of, n)
        with CaptureQueriesContext(connection) as queries:
            services.message_post(actor=room.owner, room=room, content="@all hi")
        assert Mention.objects.filter(room=room).count() == n
        inserts = [q["sql"] for q in queries if "INSERT INTO message_mentions" in q["sql"]]
        assert len(inserts) == 1 and "INSERT INTO notifications" in inserts[0]
        return len(queries)

    assert cost(11) == cost(30)  # both over 10: the poster's role is read in both


def test_a_muted_member_gets_no_mention_notification_but_the_mention_counts(make_room, member_of, api_as):
    room, (muted, loud) = _room_of(make_room, member_of, 2)
    api_as(muted).patch(f"/api/v1/rooms/{room.id}/members/{muted.id}/", {"notify_level": "none"}, format="json")
    assert RoomMember.objects.get(room=room, user=muted).notifications_enabled is False
    services.message_post(actor=room.owner, room=room, content="@all and @" + muted.username)
    assert set(Notification.objects.values_list("user_id", flat=True)) == {loud.id}
    assert unread.counts(muted)[room.id][:2] == (1, 1)


def test_notify_only_on_mentions_drops_replies_but_keeps_mentions(make_room, member_of, api_as):
    room, (quiet,) = _room_of(make_room, member_of, 1)
    response = api_as(quiet).patch(f"/api/v1/rooms/{room.id}/members/{quiet.id}/", {"notify_level": "mentions"},
                                   format="json")
    assert response.status_code == 200 and response.json()["notify_level"] == "mentions"
    parent = services.message_post(actor=quiet, room=room, content="question")
    services.message_post(actor=room.owner, room=room, content="an answer", reply_to=parent.id)
    assert not Notification.objects.exists()
    services.message_post(actor=room.owner, room=room, content="@all look")
    assert list(Notification.objects.values_list("user_id", "type")) == [(quiet.id, "mention")]
    # Someone else's level is not theirs to set.
    other = api_as(room.owner).patch(f"/api/v1/rooms/{room.id}/members/{quiet.id}/", {"notify_level": "all"},
                                     format="json")
    assert other.status_code == 403
    bad = api_as(quiet).patch(f"/api/v1/rooms/{room.id}/members/{quiet.id}/", {"notify_level": "loud"},
                              format="json")
    assert bad.status_code == 400 and "notify_level" in bad.json()["error"]["fields"]


@pytest.fixture
def teams(make_user, make_room, member_of):
    """An org with platform (handle platform-team) > infra, and sales; a room
    of the org with people from each, and one platform member not in it."""
    owner = make_user("boss")
    org = org_create(owner=owner, name="acme")
    platform = Department.objects.create(org=org, name="Platform", handle="platform-team")
    infra = Department.objects.create(org=org, name="Infra", parent=platform)
    sales = Department.objects.create(org=org, name="Sales", handle="sales")
    room = make_room(owner=owner, org=org)
    role = Role.objects.system("member")
    people = {}
    for name, dept, in_room in (("pia", platform, True), ("ivo", infra, True), ("sam", sales, True),
                                ("pete", platform, False), ("gone", platform, True)):
        user = member_of(room, username=name) if in_room else make_user(name)
        Membership.objects.create(org=org, user=user, role=role, department=dept, assigned_by=owner,
                                  is_active=name != "gone")
        people[name] = user
    return org, room, people


def test_a_department_handle_mentions_its_active_members_and_sub_departments_in_the_room(teams):
    org, room, people = teams
    message = services.message_post(actor=people["sam"], room=room, content="ping @platform-team please")
    reached = set(Mention.objects.filter(message_id=message.id).values_list("user_id", flat=True))
    assert reached == {people["pia"].id, people["ivo"].id}
    assert set(Notification.objects.filter(type="mention").values_list("user_id", flat=True)) == reached


def test_the_api_refuses_at_all_with_the_contract_error_and_the_mentionables_list_handles(teams, member_of, api_as):
    org, room, people = teams
    for _ in range(8):
        member_of(room)
    response = api_as(people["sam"]).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "@all hi"},
                                          format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "group_mention_forbidden"
    listed = api_as(people["sam"]).get(f"/api/v1/rooms/{room.id}/mentionables/?q=pl").json()["results"]
    assert [(g["kind"], g["handle"], g["members"]) for g in listed] == [("department", "platform-team", 2)]
    every = api_as(people["sam"]).get(f"/api/v1/rooms/{room.id}/mentionables/").json()["results"]
    assert {g["handle"]: g["allowed"] for g in every if g["kind"] == "group"} == {"all": False, "here": False}
    assert {"pia", "ivo", "sales"} <= {g["handle"] for g in every}
    outsider = api_as(people["pete"]).get(f"/api/v1/rooms/{room.id}/mentionables/")
    assert outsider.status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_at_here_reaches_only_members_with_a_socket_and_the_socket_refuses_at_all(make_room, member_of):
    room, people = await sync_to_async(_room_of)(make_room, member_of, 11)
    online, offline = people[0], people[1]
    comm, _ = await connect(online)
    poster, _ = await connect(room.owner)
    try:
        await sync_to_async(services.message_post)(actor=room.owner, room=room, content="@here standup")
        frame = await until(comm, "notification")
        assert "@here" in frame["notification"]["title"]
        reached = await sync_to_async(lambda: set(Mention.objects.values_list("user_id", flat=True)))()
        assert reached == {online.id} and offline.id not in reached
        plain, _ = await connect(people[2])
        try:
            await plain.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "@all hey",
                                      "client_id": "c1"})
            error = await until(plain, "error")
            assert error["code"] == "group_mention_forbidden"
        finally:
            await plain.disconnect()
        assert await sync_to_async(Message.objects.filter(content="@all hey").exists)() is False
    finally:
        await comm.disconnect()
        await poster.disconnect()
