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

from django.db import transaction
from django.db.models import F, Q

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
    root, _ = thread_root(user=actor, root_id=root_id)
    _set_following(actor, root, True)
    _changed(actor, root)


@transaction.atomic
def thread_unfollow(*, actor: User, root_id) -> None:
    """Stop following: the thread's replies no longer count as unread or
    notify, until the actor replies in it or is mentioned there."""
    root, _ = thread_root(user=actor, root_id=root_id)
    _set_following(actor, root, False)
    _changed(actor, root)


@transaction.atomic
def thread_read_mark(*, actor: User, root_id, message_id) -> ThreadFollow:
    """Move the actor's read cursor in the thread forward to ``message_id``
    (the root, or one of its replies, deleted ones included: they keep their
    place), never back. The room's own cursor does not move."""
    root, _ = thread_root(user=actor, root_id=root_id)
    message_id = parse_uuid(message_id, "message_id")
    message = (Message.objects.filter(Q(id=root.id) | Q(thread_id=root.id, created_at__gte=root.created_at))
               .filter(id=message_id).only("id", "created_at").first())
    if message is None:
        raise ValidationFailed(fields={"message_id": ["No such message in this thread."]})
    state, _ = ThreadFollow.objects.select_for_update().get_or_create(
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


def reply_removed(reply: Message) -> None:
    """A thread reply was deleted (in message_delete's transaction): the
    thread counts one reply fewer, told to the room. A decrement, like the
    posting function's increment, so a reply posted meanwhile is not lost."""
    Thread.objects.filter(root_id=reply.thread_id).update(reply_count=F("reply_count") - 1)
    broadcast_summary(reply)


def broadcast_summary(reply: Message) -> None:
    """``thread.updated`` with the thread's new summary to the room's members,
    after commit (in the posting transaction, so the summary is its own)."""
    realtime.room_event(reply.room_id, thread_state.summary_frame(reply.thread_id, reply.room_id))
