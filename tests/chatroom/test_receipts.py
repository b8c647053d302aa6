"""Read receipts (issue 18): GET /messages/{id}/receipts from the members'
read cursors in DMs, group DMs and small rooms, the refusal in large rooms,
users who opted out, organizations that switched them off, and where the
``read`` frame goes."""

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from accounts.services import profile_update
from chatroom import services
from chatroom.models import RoomMember
from orgs.services import org_create, org_update
from tests.chatroom.live_helpers import connect, frames_for, until


def receipts(client, message):
    return client.get(f"/api/v1/messages/{message.id}/receipts")


def read(user, room, message):
    services.read_mark(actor=user, room=room, message_id=message.id)


def names(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["read_by"])
    return [r["user"]["username"] for r in body["read_by"]]


@pytest.fixture
def trio(make_room, member_of, make_user):
    alice = make_user("alice")
    room = make_room(owner=alice, name="small")
    return room, alice, member_of(room, username="bob"), member_of(room, username="carol")


@pytest.mark.django_db
def test_dm_receipts_from_the_read_cursor(make_user, api_as, make_room, member_of):
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    bob = member_of(lobby, username="bob")
    dm, _ = services.dm_open(actor=alice, user_ids=[bob.id])
    first = services.message_post(actor=alice, room=dm, content="one")
    second = services.message_post(actor=alice, room=dm, content="two")
    assert names(receipts(api_as(alice), first)) == []
    read(bob, dm, first)
    body = receipts(api_as(alice), first).json()
    assert [r["user"]["username"] for r in body["read_by"]] == ["bob"] and body["read_by"][0]["read_at"]
    assert names(receipts(api_as(alice), second)) == []  # bob's cursor is before it
    read(bob, dm, second)
    assert names(receipts(api_as(alice), first)) == ["bob"]
    assert names(receipts(api_as(alice), second)) == ["bob"]
    # never the caller's own entry, nor the author's
    read(alice, dm, second)
    assert names(receipts(api_as(bob), second)) == []
    # nobody outside the DM learns it exists
    outsider = api_as(make_user("eve"))
    response = receipts(outsider, first)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_small_room_lists_readers_and_hides_those_who_opted_out(trio, api_as):
    room, alice, bob, carol = trio
    message = services.message_post(actor=alice, room=room, content="hello all")
    read(bob, room, message)
    read(carol, room, message)
    assert sorted(names(receipts(api_as(alice), message))) == ["bob", "carol"]
    assert names(receipts(api_as(carol), message)) == ["bob"]
    profile_update(actor=carol, user=carol, preferences={"send_read_receipts": False})
    assert names(receipts(api_as(alice), message)) == ["bob"]
    assert names(receipts(api_as(bob), message)) == []


@pytest.mark.django_db
def test_large_room_refuses_receipts(trio, api_as):
    room, alice, bob, carol = trio
    message = services.message_post(actor=alice, room=room, content="big")
    read(bob, room, message)
    with override_settings(RECEIPTS_MAX_MEMBERS=2):
        response = receipts(api_as(alice), message)
    assert response.status_code == 400 and response.json()["error"]["code"] == "receipts_unavailable"
    with override_settings(RECEIPTS_MAX_MEMBERS=3):
        assert names(receipts(api_as(alice), message)) == ["bob"]


@pytest.mark.django_db
def test_an_organization_can_switch_receipts_off(make_user, make_room, member_of, api_as):
    alice = make_user("alice")
    org = org_create(owner=alice, name="acme")
    room = make_room(owner=alice, name="org-room", org=org)
    bob = member_of(room, username="bob")
    message = services.message_post(actor=alice, room=room, content="in the org")
    read(bob, room, message)
    assert names(receipts(api_as(alice), message)) == ["bob"]
    org_update(actor=alice, org=org, settings={"read_receipts": False})
    response = receipts(api_as(alice), message)
    assert response.status_code == 400 and response.json()["error"]["code"] == "receipts_unavailable"


@pytest.mark.django_db
def test_a_thread_only_reply_is_read_by_the_thread_cursor(trio, api_as):
    room, alice, bob, carol = trio
    root = services.message_post(actor=alice, room=room, content="root")
    reply = services.message_post(actor=alice, room=room, content="reply", thread_id=root.id)
    read(bob, room, root)
    assert names(receipts(api_as(alice), reply)) == []
    services.thread_read_mark(actor=bob, root_id=root.id, message_id=reply.id)
    assert names(receipts(api_as(alice), reply)) == ["bob"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_the_read_frame_reaches_others_only_where_receipts_exist(make_room, member_of, make_user):
    alice = await sync_to_async(make_user)("alice")
    room = await sync_to_async(make_room)(owner=alice, name="frames")
    bob = await sync_to_async(member_of)(room, username="bob")
    message = await sync_to_async(services.message_post)(actor=alice, room=room, content="hi")
    alice_socket, _ = await connect(alice)
    bob_socket, _ = await connect(bob)
    try:
        await bob_socket.send_json_to({"type": "read", "room_id": str(room.id), "message_id": str(message.id)})
        frame = await until(alice_socket, "read")
        assert frame == {"type": "read", "room_id": str(room.id), "user_id": str(bob.id), "message_id": str(message.id)}
        assert (await until(bob_socket, "read"))["message_id"] == str(message.id)  # and to bob's own
        # Past RECEIPTS_MAX_MEMBERS only the reader's own sockets hear of it.
        later = await sync_to_async(services.message_post)(actor=alice, room=room, content="again")
        with override_settings(RECEIPTS_MAX_MEMBERS=1):
            await bob_socket.send_json_to({"type": "read", "room_id": str(room.id), "message_id": str(later.id)})
            own = await until(bob_socket, "read")
            assert own["message_id"] == str(later.id)
            assert not [f for f in await frames_for(alice_socket, 0.5) if f["type"] == "read"]
        cursor = await sync_to_async(lambda: RoomMember.objects.get(room=room, user=bob).last_read_message_id)()
        assert cursor == later.id
    finally:
        await alice_socket.disconnect()
        await bob_socket.disconnect()
