"""Threads (issue 16): following a thread, reading it, and what a reply
does after chat_message_post stored it.

A reply itself is posted by message_send.message_post with ``thread_id``:
the database function judges it (the root is a message of the room that is
not itself a reply), stores it, updates the thread's summary and applies the
automatic following (root author, repliers, mentioned users; migration
0011). Here are the rest: a user following or unfollowing any thread,
moving their read cursor in it (apart from the room's), and the broadcast of
the new summary (``thread.updated``) to the room's members.

Following and reading are personal state, not changes to shared data, so,
as a room's read cursor (read_state), they write no audit entry."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext

from accounts.models import User
from chatroom import thread_state
from chatroom.models import Message, Thread, ThreadFollow
from chatroom.thread_selectors import thread_root
from core.errors import ValidationFailed, parse_uuid
from realtime import broadcast as realtime


def _set_following(actor: User, root: Message, following: bool) -> None:
    ThreadFollow.objects.update_or_create(
        user=actor, root_id=root.id,
        defaults={"following": following},
        create_defaults={"following": following, "root_created_at": root.created_at, "room_id": root.room_id})


@transaction.atomic
def thread_follow(*, actor: User, root_id) -> None:
    """Follow any thread of a room the actor is in, even one without replies yet."""
    root, _member = thread_root(user=actor, root_id=root_id)
    _set_following(actor, root, True)
    _changed(actor, root)


@transaction.atomic
def thread_unfollow(*, actor: User, root_id) -> None:
    """Stop following: the thread's replies no longer count as unread or
    notify, until the actor replies in it or is mentioned there."""
    root, _member = thread_root(user=actor, root_id=root_id)
    _set_following(actor, root, False)
    _changed(actor, root)


@transaction.atomic
def thread_read_mark(*, actor: User, root_id, message_id) -> ThreadFollow:
    """Move the actor's read cursor in the thread forward to ``message_id``
    (the root, or one of its replies, deleted ones included: they keep their
    place), never back. The room's own cursor does not move."""
    root, _member = thread_root(user=actor, root_id=root_id)
    message_id = parse_uuid(message_id, "message_id")
    message = (Message.objects.filter(Q(id=root.id) | Q(thread_id=root.id, created_at__gte=root.created_at))
               .filter(id=message_id).only("id", "created_at").first())
    if message is None:
        raise ValidationFailed(fields={"message_id": [gettext("No such message in this thread.")]})
    state, _created = ThreadFollow.objects.select_for_update().get_or_create(
        user=actor, root_id=root.id, defaults={"root_created_at": root.created_at, "room_id": root.room_id})
    if state.last_read_at is not None and (message.created_at, str(message.id)) <= (
            state.last_read_at, str(state.last_read_message_id)):
        return state
    state.last_read_message_id, state.last_read_at = message.id, message.created_at
    state.save(update_fields=["last_read_message_id", "last_read_at"])
    _changed(actor, root, message_id=message.id)
    return state


def _changed(actor: User, root: Message, *, message_id=None) -> None:
    """Tell the actor's own sockets (their other tabs and devices) that
    their state in the thread changed, so they refresh its counts."""
    frame = {"type": "thread.read", "room_id": str(root.room_id), "root_id": str(root.id),
             "message_id": str(message_id) if message_id else None}
    realtime.user_event(actor.id, frame)


def followers(reply: Message) -> list:
    """Who follows the reply's thread, its author left out (after
    chat_message_post applied the automatic following).
    message_send._notify_message applies the notification rules to them
    (still a member, notifications on, not blocking the author)."""
    return list(ThreadFollow.objects.filter(root_id=reply.thread_id, following=True)
                .exclude(user_id=reply.user_id).values_list("user_id", flat=True))


# The summary counted again from the replies still there: their number, the
# newest one's time and who wrote them, in order of their first reply.
_RECOUNT_SQL = """
UPDATE chat_threads t
   SET reply_count = s.replies, last_reply_at = s.last_at, participants = s.people
  FROM (SELECT count(*) AS replies, max(m.created_at) AS last_at,
               COALESCE((SELECT array_agg(p.user_id ORDER BY p.first_at, p.user_id)
                           FROM (SELECT x.user_id, min(x.created_at) AS first_at FROM messages x
                                  WHERE x.thread_id = %(root)s AND x.created_at >= %(since)s AND NOT x.is_deleted
                                  GROUP BY x.user_id) p), '{}') AS people
          FROM messages m
         WHERE m.thread_id = %(root)s AND m.created_at >= %(since)s AND NOT m.is_deleted) s
 WHERE t.root_id = %(root)s
"""


def reply_removed(reply: Message) -> None:
    """A thread reply was deleted (in message_delete's transaction): the
    thread's summary is counted again from the replies left, so its last
    reply time and participants drop the deleted one too, and the room is
    told. The thread's row is locked first: a reply being posted holds it
    until it commits (the posting function updates it), so the recount, a
    statement after the lock, sees that reply, and a later one waits for
    this transaction and adds itself to the recounted summary."""
    thread = Thread.objects.select_for_update().filter(root_id=reply.thread_id).first()
    if thread is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(_RECOUNT_SQL, {"root": thread.root_id, "since": thread.root_created_at})
    broadcast_summary(reply)


def broadcast_summary(reply: Message) -> None:
    """``thread.updated`` with the thread's new summary to the room's members,
    after commit (in the posting transaction, so the summary is its own)."""
    realtime.room_event(reply.room_id, thread_state.summary_frame(reply.thread_id, reply.room_id))
