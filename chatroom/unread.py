"""Unread and mention counts per room, cached in Redis.

Counting is an index-only range scan above each read cursor
(idx_messages_room_unread holds just the messages a badge counts, with their
author), so it costs one index entry per unread message. A room's count therefore stops at UNREAD_COUNT_CAP (a
badge reads "100+", as in every chat client): without the cap, a user in 200
busy rooms read up to a week ago paid for all of them (bench/history.py:
103 ms at 10M messages); with it, at most the cap per room. Mentions in a
channel are counted from message_mentions, which holds few rows; a badge
shows them up to the cap too. The cache
keeps each (user, room) count under two keys it is only valid for:

- the room's version, a token replaced after commit by every change that can
  alter counts in the room (a message posted, edited or deleted); and
- the member's read cursor, read from the database on every call.

A request reads the versions and entries with two MGETs and recounts only the
rooms whose entry does not match. Versions are replaced only after commit,
and an entry is stored under the version read before counting, so a count is
never kept under a version newer than its data. A room without a version
(Redis was flushed, or nothing changed since) gets one on first read. Entries expire after ENTRY_TTL, which also bounds staleness if Redis missed a
version change. If Redis is down, everything is counted from the database
(the unread_counts policy fails open), and a version that could not be
replaced leaves entries to expire after ENTRY_TTL."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from chatroom.models import ROOM_VISIBLE_SQL, RoomMember
from config.faults import OPEN, redis_policy
from core.replicas import primary_only

ENTRY_TTL = 10 * 60


class Counts(NamedTuple):
    """A room's badge: ``unread`` and ``mentions`` stop at the cap, and
    ``capped`` says there are more unread than that."""

    unread: int
    mentions: int
    capped: bool


def _badge(unread: int, mentions: int) -> Counts:
    """Counts from the counting query's values, which stop at the cap + 1
    (so "more than the cap" is told apart from "exactly the cap")."""
    cap = settings.UNREAD_COUNT_CAP
    return Counts(min(unread, cap), min(mentions, cap), unread > cap)


def _version_key(room_id) -> str:
    return f"chat:room-version:{room_id}"


def _entry_key(user_id, room_id) -> str:
    return f"chat:unread:{user_id}:{room_id}"


def room_changed(room_id) -> None:
    """Call in the transaction that changes a room's unread counts: the
    room's version is replaced once it commits (see the module's note)."""
    transaction.on_commit(lambda: _bump(room_id))


@redis_policy("unread_invalidation", fails=OPEN, fallback=None,
              means="the room's cached counts are not invalidated; they expire after ENTRY_TTL (10 minutes)")
def _bump(room_id) -> None:
    cache.set(_version_key(room_id), uuid.uuid4().hex, timeout=None)


# A room counts what its history shows (chatroom.models.ROOM_VISIBLE): a
# thread reply not sent to the room counts in its thread only (thread_state).
UNREAD_SQL = """
SELECT rm.room_id, u.unread,
       -- In a DM or group DM every unread message counts for the badge, as a mention does.
       CASE WHEN c.kind <> 'channel' THEN u.unread ELSE
       (SELECT count(*) FROM message_mentions x
          JOIN messages mm ON mm.id = x.message_id AND mm.created_at = x.message_created_at
         WHERE x.user_id = rm.user_id AND x.room_id = rm.room_id
           AND x.message_created_at > COALESCE(rm.last_read_at, rm.joined_at)
           AND {mm_visible}) END AS mentions
FROM room_members rm
JOIN chat_rooms c ON c.id = rm.room_id
CROSS JOIN LATERAL (
    -- At most the cap + 1 rows are read (the module's note).
    SELECT count(*) AS unread FROM (SELECT 1 FROM messages m
     WHERE m.room_id = rm.room_id
       AND m.created_at >= COALESCE(rm.last_read_at, rm.joined_at)
       AND (m.created_at, m.id) > (COALESCE(rm.last_read_at, rm.joined_at),
                                   COALESCE(rm.last_read_message_id, '00000000-0000-0000-0000-000000000000'))
       AND m.user_id <> rm.user_id AND NOT m.is_deleted AND m.message_type <> 'system'
       AND {m_visible}
     LIMIT %s) capped) u
WHERE rm.user_id = %s AND rm.room_id = ANY(%s)
""".replace("{mm_visible}", ROOM_VISIBLE_SQL.format(m="mm")).replace("{m_visible}", ROOM_VISIBLE_SQL.format(m="m"))


def _count(user, room_ids: list) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(UNREAD_SQL, [settings.UNREAD_COUNT_CAP + 1, user.id, room_ids])
        return {room_id: (unread, mentions) for room_id, unread, mentions in cursor.fetchall()}


# Counts are cached: computed from a replica, stale ones would outlive its lag.
@primary_only
def counts(user) -> dict:
    """{room_id: Counts} for every room the user is a member of."""
    memberships = list(RoomMember.objects.filter(user=user).values_list("room_id", "last_read_message_id"))
    if not memberships:
        return {}
    return _cached_counts(user, memberships)


def _count_all(user, memberships) -> dict:
    return {room_id: _badge(*raw) for room_id, raw in _count(user, [r for r, _ in memberships]).items()}


@redis_policy("unread_counts", fails=OPEN, fallback=_count_all,
              means="unread and mention counts are all counted from the database")
def _cached_counts(user, memberships) -> dict:
    versions = cache.get_many([_version_key(r) for r, _ in memberships])
    entries = cache.get_many([_entry_key(user.id, r) for r, _ in memberships])
    # A room without a version yet gets one; add() keeps a newer one that
    # a writer set meanwhile, and the stored entries follow whichever won.
    unversioned = [_version_key(r) for r, _ in memberships if _version_key(r) not in versions]
    if unversioned:
        for key in unversioned:
            cache.add(key, uuid.uuid4().hex, timeout=None)
        versions.update(cache.get_many(unversioned))

    result, missing = {}, {}
    for room_id, cursor_id in memberships:
        version = versions.get(_version_key(room_id))
        entry = entries.get(_entry_key(user.id, room_id))
        if version is not None and entry is not None and entry[:2] == (version, str(cursor_id)):
            result[room_id] = _badge(*entry[2:4])
        else:
            missing[room_id] = (version, str(cursor_id))
    if missing:
        fresh = _count(user, list(missing))
        result.update((room_id, _badge(*raw)) for room_id, raw in fresh.items())
        store = {
            _entry_key(user.id, room_id): (*missing[room_id], *value)
            for room_id, value in fresh.items() if missing[room_id][0] is not None
        }
        if store:
            cache.set_many(store, timeout=ENTRY_TTL)
    return result
