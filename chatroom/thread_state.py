"""Threads as one user sees them: each thread's summary (chat_threads, kept
by chat_message_post) and the user's following and unread counts in it
(thread_follows). The presenters (a root's ``thread`` object), the thread
selectors (the "Threads" list) and GET /unread all count with THREAD_SQL
here, so a thread's unread count is one rule.

A thread's unread replies are the replies after the user's read cursor in it
(from its root when they never read it), not their own and not deleted. In a
DM or group DM every unread reply counts as a mention too, as the room's
messages do (chatroom.unread). A user counts only threads they follow, in
rooms they are still a member of. Each count is an index range scan on
idx_messages_thread above the cursor, from the root's time on (so only the
partitions since the root's month are touched)."""

from __future__ import annotations

import uuid

from django.db import connection

from chatroom.models import Thread
from core.timestamps import isoformat_z

ZERO_ID = uuid.UUID(int=0)

# {where}: more conditions on f (thread_follows), c (chat_rooms) and u (the counts).
THREAD_SQL = """
SELECT f.root_id, f.root_created_at, f.room_id, f.following,
       COALESCE(t.last_reply_at, f.root_created_at) AS activity, COALESCE(t.reply_count, 0), t.participants,
       u.unread, CASE WHEN c.kind <> 'channel' THEN u.unread ELSE u.mentions END AS mentions
FROM thread_follows f
JOIN room_members rm ON rm.room_id = f.room_id AND rm.user_id = f.user_id
JOIN chat_rooms c ON c.id = f.room_id
LEFT JOIN chat_threads t ON t.root_id = f.root_id
CROSS JOIN LATERAL (
    -- An unfollowed thread counts nothing (a one-time filter: no scan).
    SELECT count(*) AS unread, count(x.id) AS mentions
      FROM messages m
      LEFT JOIN message_mentions x
        ON x.message_id = m.id AND x.message_created_at = m.created_at AND x.user_id = f.user_id
     WHERE f.following IS TRUE AND m.thread_id = f.root_id
       AND m.created_at >= COALESCE(f.last_read_at, f.root_created_at)
       AND (m.created_at, m.id) > (COALESCE(f.last_read_at, f.root_created_at),
                                   COALESCE(f.last_read_message_id, '00000000-0000-0000-0000-000000000000'))
       AND m.user_id <> f.user_id AND NOT m.is_deleted) u
WHERE f.user_id = %s {where}
"""


def rows(user_id, *, where: str = "", params=(), tail: str = "") -> list[tuple]:
    """THREAD_SQL's rows for ``user_id``: (root_id, root_created_at, room_id,
    following, activity, reply_count, participants, unread, mentions)."""
    with connection.cursor() as cursor:
        cursor.execute(THREAD_SQL.format(where=where) + tail, [user_id, *params])
        return cursor.fetchall()


def totals(user) -> dict:
    """GET /unread's ``threads``: unread replies and mentions over the
    threads the user follows."""
    found = rows(user.id, where="AND f.following")
    return {"unread": sum(r[7] for r in found), "mentions": sum(r[8] for r in found)}


def summaries(root_ids, viewer=None) -> dict:
    """{root_id: the message object's ``thread``} for the roots among
    ``root_ids`` that have replies, in two queries. ``following`` and
    ``unread`` are the viewer's (false and 0 without one: a broadcast goes
    to every member alike)."""
    ids = list(root_ids)
    if not ids:
        return {}
    threads = Thread.objects.filter(root_id__in=ids).values_list("root_id", "reply_count", "last_reply_at",
                                                                  "participants")
    out = {root_id: {"reply_count": n, "last_reply_at": isoformat_z(at) if at else None,
                     "participants": [str(p) for p in people], "following": False, "unread": 0}
           for root_id, n, at, people in threads}
    if viewer is not None and getattr(viewer, "is_authenticated", False) and out:
        for root_id, _, _, following, _, _, _, unread, _ in rows(viewer.id, where="AND f.root_id = ANY(%s)",
                                                                  params=[list(out)]):
            out[root_id]["following"], out[root_id]["unread"] = bool(following), unread
    return out


def summary_frame(root_id, room_id) -> dict:
    """``thread.updated``: the thread's summary as every member sees it."""
    thread = Thread.objects.get(root_id=root_id)
    return {"type": "thread.updated", "room_id": str(room_id), "root_id": str(root_id),
            "reply_count": thread.reply_count,
            "last_reply_at": isoformat_z(thread.last_reply_at) if thread.last_reply_at else None,
            "participants": [str(p) for p in thread.participants]}
