"""Thread reads, scoped to the actor as chatroom.selectors are: a thread is
readable by the members of its room now, and by no one else (staff
included), on every face alike (services.threads.thread_root).

- ``thread_messages``: one page of a thread's replies, oldest first, with
  cursors either side, and its root (shown as removed once deleted);
- ``threads_list``: the threads the user follows, latest activity first
  (or, for the "Threads" page, unread first), with their counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from chatroom import cursors, thread_state
from chatroom.models import Message, Room, RoomMember, Thread
from chatroom.permissions import has_power
from chatroom.presenters import message_dicts
from chatroom.selectors import MAX_LIMIT, keyset_page
from core.errors import NotFound, ValidationFailed, parse_uuid

LIST_MAX_LIMIT = 100


def thread_root(*, user, root_id) -> tuple[Message, RoomMember]:
    """The root of a thread the user may read, and their membership: a
    message of a room they are a member of now, which is not itself a reply
    in a thread. A deleted root still names its thread (it shows as
    removed). Anything else is the same NotFound, so no face confirms to a
    non-member (a third person and a DM, someone who left the room) that the
    thread exists."""
    try:
        root_id = parse_uuid(root_id, "root_id")
    except ValidationFailed:
        raise NotFound("No such thread.") from None
    roots = Message.objects.filter(id=root_id)
    # A thread's summary knows its root's created_at: the lookup then prunes
    # to the root's partition instead of probing every month's.
    known = Thread.objects.filter(root_id=root_id).values_list("root_created_at", flat=True).first()
    if known is not None:
        roots = roots.filter(created_at=known)
    root = roots.select_related("user", "room").first()
    member = None
    if root is not None and getattr(user, "is_authenticated", False):
        member = RoomMember.objects.filter(room_id=root.room_id, user=user).first()
    if root is None or member is None:
        raise NotFound("No such thread.")
    if root.thread_id is not None:
        raise ValidationFailed(fields={"root_id": ["A reply in a thread is not the root of one."]})
    return root, member


@dataclass
class ThreadPage:
    root: Message
    messages: list[Message]
    prev: str | None
    next: str | None
    viewer: object = None

    def as_dict(self) -> dict:
        root, *results = message_dicts([self.root, *self.messages], self.viewer)
        return {"root": root, "results": results, "prev": self.prev, "next": self.next}


def thread_messages(*, user, root_id, before: str | None = None, after: str | None = None,
                    limit: int = 50) -> ThreadPage:
    """GET /messages/{root_id}/thread: the newest page without a cursor."""
    root, member = thread_root(user=user, root_id=root_id)
    if before is not None and after is not None:
        raise ValidationFailed(fields={"before": ["Use only one of before, after."]})
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(fields={"limit": [f"Between 1 and {MAX_LIMIT}."]})
    # From the root's time on: each page touches only the partitions since then.
    qs = Message.objects.filter(thread_id=root.id, created_at__gte=root.created_at).select_related("user")
    if not has_power(member, "see_deleted"):
        qs = qs.filter(is_deleted=False)
    page = keyset_page(qs, before=before, after=after, limit=limit, viewer=user)
    return ThreadPage(root=root, messages=page.messages, prev=page.prev, next=page.next, viewer=user)


def _list_cursor(activity: datetime, root_id) -> str:
    return cursors.encode(activity, root_id)


def threads_list(*, user, unread_only: bool = False, cursor: str | None = None, limit: int = 50,
                 unread_first: bool = False) -> dict:
    """The threads the user follows in rooms they are still in: ``{results:
    [{root, room, reply_count, last_reply_at, participants, unread,
    mentions}], next}``, latest activity first (the API), keyset-paged on
    (activity, root id). ``unread_first`` (the "Threads" page) puts the
    threads with unread replies first, on one page of ``limit``."""
    if not 1 <= limit <= LIST_MAX_LIMIT:
        raise ValidationFailed(fields={"limit": [f"Between 1 and {LIST_MAX_LIMIT}."]})
    where, params = "AND f.following", []
    if unread_only:
        where += " AND u.unread > 0"
    if cursor:
        at, mid = cursors.decode(cursor)
        where += " AND (COALESCE(t.last_reply_at, f.root_created_at), f.root_id) < (%s, %s)"
        params += [at, mid]
    return _listed(user, where, params, limit, unread_first)


def _listed(user, where, params, limit, unread_first) -> dict:
    order = "(u.unread > 0) DESC, " if unread_first else ""
    found = thread_state.rows(user.id, where=where, params=[*params, limit + 1],
                              tail=f" ORDER BY {order}activity DESC, f.root_id DESC LIMIT %s")
    more = len(found) > limit and not unread_first
    found = found[:limit]
    return {"results": _render(user, found), "next": _list_cursor(found[-1][4], found[-1][0]) if more else None}


def _render(user, found) -> list[dict]:
    if not found:
        return []
    condition = Q()
    for root_id, root_at, *_ in found:
        condition |= Q(id=root_id, created_at=root_at)
    roots = {m.id: m for m in Message.objects.filter(condition).select_related("user")}
    bodies = {m.id: body for m, body in zip(roots.values(), message_dicts(list(roots.values()), user))}
    rooms = {r.id: r for r in Room.objects.filter(id__in={row[2] for row in found})}
    out = []
    for root_id, _, room_id, _, _, reply_count, participants, unread, mentions in found:
        if root_id not in bodies:
            continue
        room = rooms[room_id]
        out.append({"root": bodies[root_id], "room": {"id": str(room.id), "kind": room.kind, "name": room.name},
                    "reply_count": reply_count,
                    "last_reply_at": bodies[root_id]["thread"]["last_reply_at"] if bodies[root_id]["thread"] else None,
                    "participants": [str(p) for p in participants or ()], "unread": unread, "mentions": mentions})
    return out

