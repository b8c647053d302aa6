"""Presence (seed 000: online status in Redis with a TTL, and an online count
per room). Seed 000's TTL is
5 minutes; here it is PRESENCE_TTL_SECONDS (45 s), because a socket that is
gone must be gone from presence within about a minute, however it went.

Each open socket is a *connection* in the user's Redis hash
``presence:conns:<user>`` (field: the socket's channel name, value: its status
and last heartbeat). The user's status is the best of their live connections:
online if any is online, away if all are away, offline when none is left. A
connection that misses heartbeats for PRESENCE_TTL_SECONDS no longer counts,
so a killed server cannot leave anyone online: status_of reads it as offline
at once, and the periodic sweep (every server process, and Celery beat) ends
the session and tells the rooms. A socket that closes, however it closes,
removes its connection at once (realtime.consumers).

A *session* runs from the moment a user has a first live connection to the
moment the last one goes (or, after a crash, its last heartbeat); tabs that
overlap are one session. Its start and end are told to the online-time
keeper that accounts registers (realtime.registry.OnlineTime), which adds
its seconds to each UTC day it spans. All of this is decided inside one Lua
script, so two tabs connecting at once on two server processes cannot both
start a session.

Status changes are sent as ``presence`` frames to the rooms the user is a
member of (so only people who share a room see them), each with that room's
online count. Which rooms those are comes from the rooms chatroom registers
(realtime.registry.Rooms.user_room_ids), read from the database at each
change: the membership table is the truth, and a copy of it in Redis would
have to be kept in step by every face that changes membership, and would go
stale (and tell non-members) whenever a change committed while Redis was
down."""

from __future__ import annotations

import time

from django.conf import settings
from config import redis_connections
from config.faults import OPEN, redis_policy
from realtime import broadcast, registry

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
GONE, SWEEP = "gone", "sweep"

# KEYS: conns hash, state string, users zset. ARGV: user, conn, op, now, ttl.
# op is a connection's new status (online/away), "gone", or "sweep" (only
# purge stale connections). Returns {before, after, since, ended_since,
# ended_at, started}: the status before and after, the open session's start,
# and a session that ended (crash or last connection gone) or started.
_UPDATE = """
local conns, state, users = KEYS[1], KEYS[2], KEYS[3]
local user, conn, op = ARGV[1], ARGV[2], ARGV[3]
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local function aggregate()
  local best, lastbeat = 'offline', 0
  local all = redis.call('HGETALL', conns)
  for i = 1, #all, 2 do
    local status, beat = string.match(all[i + 1], '^(%a+):(.+)$')
    beat = tonumber(beat)
    if beat + ttl < now then
      redis.call('HDEL', conns, all[i])
    else
      if status == 'online' then best = 'online' elseif best == 'offline' then best = 'away' end
      if beat > lastbeat then lastbeat = beat end
    end
  end
  return best, lastbeat
end
local before, since, lastbeat = 'offline', '', ''
local st = redis.call('GET', state)
if st then before, since, lastbeat = string.match(st, '^(%a+):([^:]+):(.+)$') end
local ended_since, ended_at, started = '', '', ''
local live = aggregate()
if st and live == 'offline' then
  -- Every connection of the open session went stale (its server died): the
  -- session ended at its last heartbeat, not now.
  ended_since, ended_at, since = since, lastbeat, ''
end
if op == 'gone' then
  redis.call('HDEL', conns, conn)
elseif op ~= 'sweep' then
  redis.call('HSET', conns, conn, op .. ':' .. ARGV[4])
end
local after, beat = aggregate()
if after == 'offline' then
  if since ~= '' then ended_since, ended_at = since, ARGV[4] end
  redis.call('DEL', state)
  redis.call('ZREM', users, user)
else
  if since == '' then since, started = ARGV[4], ARGV[4] end
  redis.call('SET', state, after .. ':' .. since .. ':' .. beat)
  redis.call('ZADD', users, beat + ttl, user)
end
return {before, after, since, ended_since, ended_at, started}
"""


def _redis():
    return redis_connections.client()


def _key(*parts) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, "presence", *map(str, parts)])


def _room_key(room_id) -> str:
    return _key("room", room_id)


def update(user_id, conn: str, op: str, *, now: float | None = None) -> str:
    """Record a connection's status (online/away), its heartbeat (the same),
    or its end (``gone``); returns the user's status afterwards."""
    now = time.time() if now is None else now
    r = _redis()
    before, after, since, ended_since, ended_at, started = [
        v.decode() if isinstance(v, bytes) else v
        for v in r.eval(_UPDATE, 3, _key("conns", user_id), _key("state", user_id), _key("users"),
                        str(user_id), conn, op, repr(now), settings.PRESENCE_TTL_SECONDS)
    ]
    online_time = registry.online_time()
    if ended_since:
        online_time.session_ended(user_id, float(ended_since), float(ended_at))
    if started:
        online_time.session_started(user_id, float(started))
    if before != after:
        rooms = [str(r) for r in registry.rooms().user_room_ids(user_id)]
        pipe = r.pipeline()
        for room_id in rooms:
            if after == OFFLINE:
                pipe.srem(_room_key(room_id), str(user_id))
            else:
                pipe.sadd(_room_key(room_id), str(user_id))
        pipe.execute()
        _broadcast(user_id, after, rooms)
    return after


def sweep(*, now: float | None = None) -> int:
    """End the sessions of users whose every connection went stale (their
    server was killed), and tell their rooms they are offline. Run every
    PRESENCE_SWEEP_SECONDS by each server process and by Celery beat; the
    update script decides each user once, so sweeps may overlap. Returns
    how many users went offline."""
    now = time.time() if now is None else now
    stale = _redis().zrangebyscore(_key("users"), "-inf", now)
    ended = 0
    for user_id in stale:
        user_id = user_id.decode() if isinstance(user_id, bytes) else user_id
        if update(user_id, "", SWEEP, now=now) == OFFLINE:
            ended += 1
    return ended


@redis_policy("presence_read", fails=OPEN, fallback=lambda user_ids, **kwargs: {},
              means="users' statuses read as offline (the response's X-Unavailable says they are unknown)")
def status_of(user_ids, *, now: float | None = None) -> dict:
    """{user_id: online/away/offline}, one round trip. A user whose every
    connection stopped beating counts as offline at once, before the sweep
    has ended the session (its server was killed, and no sweep ran yet)."""
    user_ids = [str(u) for u in user_ids]
    if not user_ids:
        return {}
    now = time.time() if now is None else now
    pipe = _redis().pipeline(transaction=False)
    pipe.mget([_key("state", u) for u in user_ids])
    for user_id in user_ids:
        pipe.zscore(_key("users"), user_id)  # the newest heartbeat + TTL
    values, *expiries = pipe.execute()
    out = {}
    for user_id, value, expiry in zip(user_ids, values, expiries):
        live = value and expiry is not None and expiry >= now
        out[user_id] = value.decode().split(":", 1)[0] if live else OFFLINE
    return out


def online_counts(room_ids) -> dict:
    """{room_id: users online or away in the room}, one pipeline."""
    room_ids = [str(r) for r in room_ids]
    pipe = _redis().pipeline()
    for room_id in room_ids:
        pipe.scard(_room_key(room_id))
    return dict(zip(room_ids, pipe.execute()))


def room_membership_changed(user_id, room_id, *, member: bool) -> None:
    """Keep a room's online set right when a connected user joins or leaves."""
    r = _redis()
    if member:
        if r.exists(_key("state", user_id)):
            r.sadd(_room_key(room_id), str(user_id))
    else:
        r.srem(_room_key(room_id), str(user_id))


def _broadcast(user_id, status: str, rooms: list[str]) -> None:
    counts = online_counts(rooms)
    for room_id in rooms:
        broadcast.room_event(room_id, {"type": "presence", "user_id": str(user_id), "status": status,
                                      "room_id": room_id, "online_count": counts.get(room_id, 0)})


def online_in_room(room_id) -> list[str]:
    """The members of a room with a live socket now (online or away): the
    room's online set, each checked against their heartbeats, as a server
    that was killed leaves its users in the set until the sweep (@here)."""
    users = [u.decode() for u in _redis().smembers(_room_key(room_id))]
    return [u for u, status in status_of(users).items() if status != OFFLINE]


def has_live_socket(user_ids) -> set[str]:
    """Which of ``user_ids`` have a socket online now (missed-message mail)."""
    return {u for u, status in status_of(user_ids).items() if status != OFFLINE}
