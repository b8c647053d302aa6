"""Messages: client_id dedupe, replies, mentions, reactions, edit history,
soft delete, length limit, and the composite foreign keys PostgreSQL enforces."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from chatroom import selectors, services
from chatroom.models import Mention, Message, MessageClientId, MessageEdit, Reaction
from core.errors import NotFound, ValidationFailed

# GET /unread's counts over followed threads (none in these tests).
NO_THREADS = {"unread": 0, "mentions": 0}

pytestmark = pytest.mark.django_db


def test_the_same_client_id_returns_the_first_message_and_stores_one(make_room):
    room = make_room()
    first = services.message_post(actor=room.owner, room=room, content="once", client_id="abc-1")
    again = services.message_post(actor=room.owner, room=room, content="twice?", client_id="abc-1")
    assert again.id == first.id and again.content == "once"
    assert first.deduplicated is False and again.deduplicated is True
    assert Message.objects.filter(room=room, message_type="text").count() == 1
    # Another user may use the same client_id.
    other = services.message_post(actor=room.owner, room=room, content="new", client_id="abc-2")
    assert other.id != first.id


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_with_one_client_id_store_one_message(make_room):
    room = make_room()

    def send(_):
        try:
            return services.message_post(actor=room.owner, room=room, content="racy", client_id="same").id
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(send, range(8)))
    assert len(ids) == 1
    assert Message.objects.filter(room=room, message_type="text").count() == 1
    assert MessageClientId.objects.filter(client_id="same").count() == 1


def test_reply_keeps_the_composite_reference_and_shows_an_excerpt(make_room, member_of):
    room = make_room()
    bob = member_of(room)
    parent = services.message_post(actor=room.owner, room=room, content="question?")
    reply = services.message_post(actor=bob, room=room, content="answer", reply_to=parent.id)
    assert (reply.reply_to_id, reply.reply_to_created_at) == (parent.id, parent.created_at)
    body = selectors.room_messages(user=bob, room=room).as_dict()["results"][-1]
    assert body["reply_to"]["id"] == str(parent.id) and body["reply_to"]["excerpt"] == "question?"


def test_reply_to_a_message_of_another_room_is_refused(make_room):
    room, other = make_room(), make_room()
    foreign = services.message_post(actor=other.owner, room=other, content="elsewhere")
    with pytest.raises(ValidationFailed) as err:
        services.message_post(actor=room.owner, room=room, content="x", reply_to=foreign.id)
    assert "reply_to" in err.value.fields


def test_postgres_refuses_a_reply_or_reaction_to_a_missing_message(make_room):
    room = make_room()
    real = services.message_post(actor=room.owner, room=room, content="real")
    ghost_id, when = uuid.uuid4(), timezone.now()
    with pytest.raises(IntegrityError, match="messages_reply_to_fk"), transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO messages (id, created_at, room_id, user_id, content, message_type, reply_to_id,"
            " reply_to_created_at, is_edited, is_deleted, is_pinned, metadata, updated_at)"
            " VALUES (%s, %s, %s, %s, 'x', 'text', %s, %s, false, false, false, '{}', now())",
            [uuid.uuid4(), when, room.id, room.owner_id, ghost_id, when],
        )
    with pytest.raises(IntegrityError, match="message_reactions_message_fk"), transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO message_reactions (message_id, message_created_at, user_id, emoji, created_at)"
            " VALUES (%s, %s, %s, '👍', now())",
            [ghost_id, when, room.owner_id],
        )
    # The right id with the wrong created_at is no message either.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO message_reactions (message_id, message_created_at, user_id, emoji, created_at)"
            " VALUES (%s, %s, %s, '👍', now())",
            [real.id, real.created_at - timedelta(seconds=1), room.owner_id],
        )
    assert not Reaction.objects.exists()


def test_mentions_resolve_to_room_members_only(make_room, member_of, make_user):
    room = make_room()
    alice = member_of(room, username="alice")
    make_user(username="outsider")
    message = services.message_post(actor=room.owner, room=room, content="hi @alice and @outsider and @nobody")
    assert list(Mention.objects.filter(message_id=message.id).values_list("user_id", flat=True)) == [alice.id]
    unread = selectors.unread_counts(user=alice)
    assert unread["rooms"][0]["mentions"] == 1


def test_reactions_are_unique_per_user_and_emoji(make_room, member_of):
    room = make_room()
    bob = member_of(room)
    message = services.message_post(actor=room.owner, room=room, content="react")
    services.reaction_add(actor=bob, message_id=message.id, emoji="👍")
    services.reaction_add(actor=bob, message_id=message.id, emoji="👍")
    services.reaction_add(actor=room.owner, message_id=message.id, emoji="👍")
    services.reaction_add(actor=bob, message_id=message.id, emoji="🎉")
    body = selectors.room_messages(user=bob, room=room).as_dict()["results"][-1]
    assert body["reactions"] == [{"emoji": "👍", "count": 2, "me": True}, {"emoji": "🎉", "count": 1, "me": True}]
    services.reaction_remove(actor=bob, message_id=message.id, emoji="👍")
    assert Reaction.objects.filter(message_id=message.id).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        Reaction.objects.create(message=message, message_created_at=message.created_at, user=room.owner, emoji="👍")


def test_edit_history_keeps_every_earlier_version_with_its_time(make_room, member_of):
    room = make_room()
    reader = member_of(room)
    message = services.message_post(actor=room.owner, room=room, content="v1")
    services.message_edit(actor=room.owner, message_id=message.id, content="v2")
    services.message_edit(actor=room.owner, message_id=message.id, content="v3")
    history = selectors.message_history(user=reader, message_id=message.id)
    assert [v["content"] for v in history] == ["v1", "v2"]
    assert history[0]["edited_at"] == message.created_at.isoformat().replace("+00:00", "Z")
    current = Message.objects.get(id=message.id)
    assert current.content == "v3" and current.is_edited
    assert MessageEdit.objects.filter(message_id=message.id).count() == 2


def test_soft_delete_hides_the_content_from_everyone(make_room, member_of):
    room = make_room()
    reader, moderator = member_of(room), member_of(room, "moderator")
    message = services.message_post(actor=reader, room=room, content="regrettable words")
    services.reaction_add(actor=moderator, message_id=message.id, emoji="👀")
    services.message_delete(actor=reader, message_id=message.id)

    # Members no longer see it at all; moderators see that it was removed, without the text.
    assert all(m["id"] != str(message.id) for m in selectors.room_messages(user=reader, room=room).as_dict()["results"])
    seen = [m for m in selectors.room_messages(user=moderator, room=room).as_dict()["results"] if m["id"] == str(message.id)]
    assert seen and seen[0]["is_deleted"] and seen[0]["content"] == "" and seen[0]["reactions"] == []
    with pytest.raises(NotFound):
        selectors.message_get(user=reader, message_id=message.id)
    assert selectors.search_messages(user=moderator, q="regrettable")["results"] == []
    with pytest.raises(NotFound):
        services.message_edit(actor=reader, message_id=message.id, content="undo")


def test_content_is_limited_and_required(make_room, settings):
    room = make_room()
    settings.CHAT_MESSAGE_MAX_LENGTH = 10
    with pytest.raises(ValidationFailed) as err:
        services.message_post(actor=room.owner, room=room, content="x" * 11)
    assert "content" in err.value.fields
    with pytest.raises(ValidationFailed):
        services.message_post(actor=room.owner, room=room, content="   ")
    with pytest.raises(ValidationFailed):
        services.message_post(actor=room.owner, room=room, content="hi", message_type="system")
    assert services.message_post(actor=room.owner, room=room, content="x" * 10).content == "x" * 10
    assert Message.objects.filter(room=room, message_type="text").count() == 1


def test_read_cursor_only_moves_forward_and_drives_unread_counts(make_room, member_of):
    room = make_room()
    reader = member_of(room)
    msgs = [services.message_post(actor=room.owner, room=room, content=f"m{i}") for i in range(5)]
    assert selectors.unread_counts(user=reader) == {"total": 5, "capped": False, "rooms": [{"room_id": str(room.id), "unread": 5, "mentions": 0, "capped": False}], "threads": NO_THREADS}
    services.read_mark(actor=reader, room=room, message_id=msgs[2].id)
    assert selectors.unread_counts(user=reader)["total"] == 2
    services.read_mark(actor=reader, room=room, message_id=msgs[0].id)  # never backwards
    assert selectors.unread_counts(user=reader)["total"] == 2
    services.read_mark(actor=reader, room=room, message_id=msgs[4].id)
    assert selectors.unread_counts(user=reader) == {"total": 0, "capped": False, "rooms": [], "threads": NO_THREADS}
    # Own messages are never unread.
    services.message_post(actor=reader, room=room, content="mine")
    assert selectors.unread_counts(user=reader)["total"] == 0


def test_broadcasts_go_out_only_after_commit(make_room, member_of, django_capture_on_commit_callbacks):
    from realtime.broadcast import room_group
    from tests.layer import GroupListener

    room = make_room()
    with GroupListener(room_group(room.id)) as listener:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = services.message_post(actor=room.owner, room=room, content="live")
        assert callbacks, "the broadcast waits for commit"
        assert listener.frames(settle=0.5) == []
        for callback in callbacks:
            callback()
        frames = listener.frames()
    assert [f["type"] for f in frames] == ["message.new"]
    assert frames[0]["message"]["id"] == str(message.id)
    assert frames[0]["message"]["content"] == "live"


def test_unread_counts_are_cached_and_follow_every_change(make_room, member_of, django_capture_on_commit_callbacks):
    from django.test.utils import CaptureQueriesContext

    room = make_room()
    alice = member_of(room, username="alice")

    def commit(fn, **kwargs):
        # The version change runs on commit, as in production.
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    first = commit(services.message_post, actor=room.owner, room=room, content="one")
    assert selectors.unread_counts(user=alice)["total"] == 1
    with CaptureQueriesContext(connection) as ctx:
        assert selectors.unread_counts(user=alice)["total"] == 1
    # (the followed threads are counted apart, chatroom.thread_state)
    assert not any("count(*)" in q["sql"] and "thread_follows" not in q["sql"] for q in ctx.captured_queries), \
        "the second read comes from Redis"

    second = commit(services.message_post, actor=room.owner, room=room, content="hey @alice")
    assert selectors.unread_counts(user=alice)["rooms"] == [{"room_id": str(room.id), "unread": 2, "mentions": 1, "capped": False}]
    commit(services.message_edit, actor=room.owner, message_id=second.id, content="hey all")
    assert selectors.unread_counts(user=alice)["rooms"][0]["mentions"] == 0
    commit(services.message_delete, actor=room.owner, message_id=first.id)
    assert selectors.unread_counts(user=alice)["total"] == 1
    # Reading moves the member's cursor, which the cached entry is keyed on.
    commit(services.read_mark, actor=alice, room=room, message_id=second.id)
    assert selectors.unread_counts(user=alice) == {"total": 0, "capped": False, "rooms": [], "threads": NO_THREADS}
