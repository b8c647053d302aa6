"""Threads over the API (issue 16): replies stored with the root's composite
key, the room's history and the thread page, summaries, following, read
state apart from the room's, GET /unread's ``threads``, and the refusals: a
reply to a reply, a thread in a room the user left, a third person and a DM
thread, blocked users."""

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Notification
from chatroom import services
from chatroom.models import ROOM_VISIBLE, ROOM_VISIBLE_SQL, Message, Thread, ThreadFollow, UserBlock

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def trio(make_room, member_of, make_user):
    """#lobby with alice (owner), bob and carol."""
    alice = make_user("alice")
    room = make_room(owner=alice, name="lobby")
    bob, carol = member_of(room, username="bob"), member_of(room, username="carol")
    return room, alice, bob, carol


def post(client, room, content, **extra):
    response = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": content, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def unread_threads(client):
    response = client.get("/api/v1/unread")
    assert response.status_code == 200
    return response.json()["threads"]


def test_a_reply_is_stored_with_the_roots_composite_key_and_a_real_foreign_key(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    reply = post(api_as(bob), room, "first reply", thread_id=root["id"])
    assert reply["thread_id"] == root["id"] and reply["also_to_room"] is False and reply["thread"] is None
    stored = Message.objects.get(id=reply["id"])
    root_row = Message.objects.get(id=root["id"])
    assert stored.thread_created_at == root_row.created_at and stored.created_at > root_row.created_at
    # PostgreSQL itself refuses a reply that points at no root.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE messages SET thread_created_at = thread_created_at - interval '1 second' "
                       "WHERE id = %s", [stored.id])


def test_room_history_shows_replies_only_with_also_to_room(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    hidden = post(api_as(bob), room, "thread only", thread_id=root["id"])
    shown = post(api_as(bob), room, "to the room too", thread_id=root["id"], also_to_room=True)
    history = api_as(alice).get(f"/api/v1/rooms/{room.id}/messages/").json()["results"]
    ids = [m["id"] for m in history]
    assert root["id"] in ids and shown["id"] in ids and hidden["id"] not in ids
    summary = next(m for m in history if m["id"] == root["id"])["thread"]
    assert summary["reply_count"] == 2 and summary["participants"] == [str(bob.id)]
    assert summary["following"] is True and summary["unread"] == 2  # alice, the root's author, follows
    assert summary["last_reply_at"] == shown["created_at"]
    # The thread page has both, oldest first, and the root.
    page = api_as(alice).get(f"/api/v1/messages/{root['id']}/thread").json()
    assert page["root"]["id"] == root["id"]
    assert [m["id"] for m in page["results"]] == [hidden["id"], shown["id"]]
    assert page["prev"] is None and page["next"] is None


def test_also_to_room_without_a_thread_is_a_validation_error(trio, api_as):
    room, alice, *_ = trio
    response = api_as(alice).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "x", "also_to_room": True},
                                  format="json")
    assert "also_to_room" in assert_error(response, 400, "validation_error")["fields"]


def test_a_reply_to_a_thread_reply_is_refused(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    reply = post(api_as(bob), room, "reply", thread_id=root["id"])
    response = api_as(alice).post(f"/api/v1/rooms/{room.id}/messages/",
                                  {"content": "nested", "thread_id": reply["id"]}, format="json")
    assert "thread_id" in assert_error(response, 400, "validation_error")["fields"]
    # ... nor can a reply be followed or read as a root.
    assert_error(api_as(alice).get(f"/api/v1/messages/{reply['id']}/thread"), 400, "validation_error")
    assert_error(api_as(alice).post(f"/api/v1/messages/{reply['id']}/follow"), 400, "validation_error")
    assert Message.objects.filter(content="nested").count() == 0


def test_a_root_in_another_room_is_refused(trio, api_as, make_room):
    room, alice, *_ = trio
    other = make_room(owner=alice, name="other")
    root = post(api_as(alice), other, "elsewhere")
    response = api_as(alice).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "x", "thread_id": root["id"]},
                                  format="json")
    assert "thread_id" in assert_error(response, 400, "validation_error")["fields"]


def test_following_is_automatic_for_author_repliers_and_mentioned(trio, api_as, member_of):
    room, alice, bob, carol = trio
    dave = member_of(room, username="dave")
    root = post(api_as(alice), room, "root")
    post(api_as(bob), room, "hey @carol", thread_id=root["id"])
    following = set(ThreadFollow.objects.filter(root_id=root["id"], following=True).values_list("user__username",
                                                                                                 flat=True))
    assert following == {"alice", "bob", "carol"}
    # dave follows by hand, then unfollows; alice unfollows and a new reply does not bring her back.
    assert api_as(dave).post(f"/api/v1/messages/{root['id']}/follow").status_code == 204
    assert ThreadFollow.objects.get(root_id=root["id"], user=dave).following is True
    assert api_as(dave).delete(f"/api/v1/messages/{root['id']}/follow").status_code == 204
    assert api_as(alice).delete(f"/api/v1/messages/{root['id']}/follow").status_code == 204
    post(api_as(bob), room, "again", thread_id=root["id"])
    assert ThreadFollow.objects.get(root_id=root["id"], user=alice).following is False
    # ... but a mention does.
    post(api_as(carol), room, "@alice look", thread_id=root["id"])
    assert ThreadFollow.objects.get(root_id=root["id"], user=alice).following is True


def test_thread_read_state_is_apart_from_the_rooms(trio, api_as):
    room, alice, bob, carol = trio
    root = post(api_as(alice), room, "root")
    post(api_as(bob), room, "one", thread_id=root["id"])
    last = post(api_as(carol), room, "two @alice", thread_id=root["id"])
    assert unread_threads(api_as(alice)) == {"unread": 2, "mentions": 1}
    # The room itself has nothing unread for alice (both replies are thread-only).
    assert api_as(alice).get("/api/v1/unread").json()["rooms"] == []
    listed = api_as(alice).get("/api/v1/threads/?unread=1").json()
    assert [t["root"]["id"] for t in listed["results"]] == [root["id"]]
    item = listed["results"][0]
    assert (item["reply_count"], item["unread"], item["mentions"]) == (2, 2, 1)
    assert set(item["participants"]) == {str(bob.id), str(carol.id)}
    # Reading the room does not read the thread; reading the thread does.
    api_as(alice).post(f"/api/v1/rooms/{room.id}/read", {"message_id": root["id"]}, format="json")
    assert unread_threads(api_as(alice))["unread"] == 2
    response = api_as(alice).post(f"/api/v1/threads/{root['id']}/read", {"message_id": last["id"]}, format="json")
    assert response.status_code == 204
    assert unread_threads(api_as(alice)) == {"unread": 0, "mentions": 0}
    assert api_as(alice).get("/api/v1/threads/?unread=1").json()["results"] == []
    assert len(api_as(alice).get("/api/v1/threads/").json()["results"]) == 1
    # A message of another thread is not a place in this one.
    response = api_as(alice).post(f"/api/v1/threads/{root['id']}/read",
                                  {"message_id": post(api_as(alice), room, "other")["id"]}, format="json")
    assert_error(response, 400, "validation_error")


def test_the_threads_list_is_latest_activity_first_and_paged(trio, api_as):
    room, alice, bob, _ = trio
    roots = [post(api_as(alice), room, f"root {i}") for i in range(3)]
    for root in (roots[1], roots[0], roots[2]):
        post(api_as(bob), room, "reply", thread_id=root["id"])
    first = api_as(alice).get("/api/v1/threads/?limit=2").json()
    assert [t["root"]["id"] for t in first["results"]] == [roots[2]["id"], roots[0]["id"]]
    rest = api_as(alice).get(f"/api/v1/threads/?limit=2&cursor={first['next']}").json()
    assert [t["root"]["id"] for t in rest["results"]] == [roots[1]["id"]] and rest["next"] is None


def test_thread_pages_with_cursors(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    replies = [post(api_as(bob), room, f"r{i}", thread_id=root["id"])["id"] for i in range(5)]
    client = api_as(alice)
    newest = client.get(f"/api/v1/messages/{root['id']}/thread?limit=2").json()
    assert [m["id"] for m in newest["results"]] == replies[3:] and newest["next"] is None
    older = client.get(f"/api/v1/messages/{root['id']}/thread?limit=2&before={newest['prev']}").json()
    assert [m["id"] for m in older["results"]] == replies[1:3]
    newer = client.get(f"/api/v1/messages/{root['id']}/thread?limit=10&after={older['prev']}").json()
    assert [m["id"] for m in newer["results"]] == replies[2:]
    assert_error(client.get(f"/api/v1/messages/{root['id']}/thread?limit=0"), 400, "validation_error")
    assert_error(client.get(f"/api/v1/messages/{root['id']}/thread?before=zzz"), 400, "validation_error")


def test_a_deleted_root_keeps_its_thread_readable(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "secret root")
    reply = post(api_as(bob), room, "reply", thread_id=root["id"])
    assert api_as(alice).delete(f"/api/v1/messages/{root['id']}/").status_code == 204
    page = api_as(bob).get(f"/api/v1/messages/{root['id']}/thread").json()
    assert page["root"]["is_deleted"] is True and page["root"]["content"] == ""
    assert [m["id"] for m in page["results"]] == [reply["id"]]
    # It still takes replies.
    post(api_as(bob), room, "after the delete", thread_id=root["id"])
    assert Thread.objects.get(root_id=root["id"]).reply_count == 2


def test_a_user_who_left_the_room_can_neither_read_nor_post_in_its_thread(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    post(api_as(bob), room, "reply", thread_id=root["id"])
    services.room_leave(user=bob, room=room)
    assert_error(api_as(bob).get(f"/api/v1/messages/{root['id']}/thread"), 404, "not_found")
    response = api_as(bob).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "x", "thread_id": root["id"]},
                                format="json")
    assert_error(response, 403, "permission_denied")
    assert_error(api_as(bob).post(f"/api/v1/messages/{root['id']}/follow"), 404, "not_found")
    assert_error(api_as(bob).post(f"/api/v1/threads/{root['id']}/read", {"message_id": root["id"]}, format="json"),
                 404, "not_found")
    # The thread no longer counts for bob, though his follow row is kept.
    assert unread_threads(api_as(bob)) == {"unread": 0, "mentions": 0}
    assert api_as(bob).get("/api/v1/threads/").json()["results"] == []


def test_a_third_person_cannot_read_a_dm_thread(trio, api_as):
    _, alice, bob, carol = trio
    dm = services.dm_open(actor=alice, user_ids=[bob.id])[0]
    root = post(api_as(alice), dm, "just us")
    post(api_as(bob), dm, "in the thread", thread_id=root["id"])
    assert_error(api_as(carol).get(f"/api/v1/messages/{root['id']}/thread"), 404, "not_found")
    assert_error(api_as(carol).post(f"/api/v1/messages/{root['id']}/follow"), 404, "not_found")
    response = api_as(carol).post(f"/api/v1/rooms/{dm.id}/messages/", {"content": "x", "thread_id": root["id"]},
                                  format="json")
    assert response.status_code in (403, 404)
    # In a DM every unread thread reply counts as a mention, as the DM's messages do.
    assert unread_threads(api_as(alice)) == {"unread": 1, "mentions": 1}


def test_blocked_users_in_threads(trio, api_as):
    room, alice, bob, carol = trio
    dm = services.dm_open(actor=alice, user_ids=[bob.id])[0]
    root = post(api_as(alice), dm, "root")
    services.block_add(actor=alice, user=bob)
    response = api_as(bob).post(f"/api/v1/rooms/{dm.id}/messages/", {"content": "x", "thread_id": root["id"]},
                                format="json")
    assert_error(response, 403, "blocked")
    # In a channel, the blocker gets neither the mention nor a thread notification, nor follows by it.
    channel_root = post(api_as(carol), room, "root")
    post(api_as(alice), room, "alice follows", thread_id=channel_root["id"])
    before = Notification.objects.filter(user=alice).count()
    post(api_as(bob), room, "@alice hello", thread_id=channel_root["id"])
    assert Notification.objects.filter(user=alice).count() == before
    assert UserBlock.objects.filter(blocker=alice, blocked=bob).exists()


def test_followers_are_notified_of_replies(trio, api_as):
    room, alice, bob, carol = trio
    root = post(api_as(alice), room, "root")
    post(api_as(bob), room, "bob replies", thread_id=root["id"])
    post(api_as(carol), room, "carol replies", thread_id=root["id"])
    reasons = sorted(n.data["reason"] for n in Notification.objects.filter(data__thread_id=root["id"]))
    # alice twice (root author), bob once (carol's reply); nobody of their own reply.
    assert reasons == ["thread", "thread", "thread"]
    assert not Notification.objects.filter(user=carol, data__thread_id=root["id"]).exists()


def test_room_visible_rule_in_python_and_sql_agree(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    hidden = post(api_as(bob), room, "a", thread_id=root["id"])["id"]
    shown = post(api_as(bob), room, "b", thread_id=root["id"], also_to_room=True)["id"]
    python = set(Message.objects.filter(ROOM_VISIBLE, room=room).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT m.id FROM messages m WHERE m.room_id = %s AND {ROOM_VISIBLE_SQL.format(m='m')}",
                       [room.id])
        sql = {row[0] for row in cursor.fetchall()}
    assert python == sql and shown in {str(i) for i in sql} and hidden not in {str(i) for i in sql}


def test_the_socket_stream_keeps_thread_replies(trio, api_as):
    """Resume reads messages_after, which covers thread replies (the room's
    history does not), so a socket catches up on them too."""
    from chatroom import selectors
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    reply = post(api_as(bob), room, "reply", thread_id=root["id"])
    found, more = selectors.messages_after(user=alice, room_id=room.id, cursor=root["cursor"], limit=10)
    assert [m["id"] for m in found] == [reply["id"]] and found[0]["thread_id"] == root["id"] and not more


def test_deleting_a_reply_counts_it_out_of_the_summary(trio, api_as):
    room, alice, bob, _ = trio
    root = post(api_as(alice), room, "root")
    first = post(api_as(bob), room, "one", thread_id=root["id"])
    post(api_as(bob), room, "two", thread_id=root["id"])
    assert api_as(bob).delete(f"/api/v1/messages/{first['id']}/").status_code == 204
    assert api_as(bob).delete(f"/api/v1/messages/{first['id']}/").status_code in (204, 404)  # once only
    assert Thread.objects.get(root_id=root["id"]).reply_count == 1
    assert unread_threads(api_as(alice))["unread"] == 1
    # A member sees it gone; the owner (a moderator) sees it as removed.
    page = api_as(bob).get(f"/api/v1/messages/{root['id']}/thread").json()
    assert [m["content"] for m in page["results"]] == ["two"]
    page = api_as(alice).get(f"/api/v1/messages/{root['id']}/thread").json()
    assert [(m["content"], m["is_deleted"]) for m in page["results"]] == [("", True), ("two", False)]


def test_deleting_replies_recounts_the_last_reply_time_and_the_participants(trio, api_as):
    """The summary drops a deleted reply entirely: someone whose only reply
    is gone is no longer a participant, and the last reply time goes back to
    the newest reply left; with none left, it is empty."""
    room, alice, bob, carol = trio
    root = post(api_as(alice), room, "root")
    first = post(api_as(bob), room, "bob's", thread_id=root["id"])
    second = post(api_as(carol), room, "carol's", thread_id=root["id"])
    thread = Thread.objects.get(root_id=root["id"])
    assert thread.participants == [bob.id, carol.id]
    assert api_as(carol).delete(f"/api/v1/messages/{second['id']}/").status_code == 204
    thread.refresh_from_db()
    assert (thread.reply_count, thread.participants) == (1, [bob.id])
    assert thread.last_reply_at == Message.objects.get(id=first["id"]).created_at
    summary = api_as(alice).get(f"/api/v1/rooms/{room.id}/messages/").json()["results"][-1]["thread"]
    assert (summary["reply_count"], summary["participants"]) == (1, [str(bob.id)])
    assert api_as(bob).delete(f"/api/v1/messages/{first['id']}/").status_code == 204
    thread.refresh_from_db()
    assert (thread.reply_count, thread.participants, thread.last_reply_at) == (0, [], None)
    # A new reply starts the summary again from what is left.
    post(api_as(carol), room, "again", thread_id=root["id"])
    thread.refresh_from_db()
    assert (thread.reply_count, thread.participants) == (1, [carol.id])
