"""The client WebSocket at /ws/ (api.md, "WebSocket").

One socket per client. Frames are JSON objects with a ``type``; each client
frame type is one entry of the dispatch table, which calls the chat services
through chatroom.frames. Everything the services broadcast arrives as a
``client.frame`` group event (chatroom.realtime) and is relayed here.

Delivery without loss. The socket remembers, per room, the cursor of the last
message it delivered. Every ``message.new`` event carries the cursor of the
room's previous message: when that is not the one this socket delivered last,
a message went missing on the way (the channel was full, or the message
expired while the client was slow), and the socket fetches the gap from the
database before going on. A message at or before the remembered cursor is a
duplicate and is dropped. So is anything for a room the socket has left. A
periodic check against the rooms' newest messages catches a missing *last*
message, which no later event would reveal. A client that fell too far
behind is told to ``resume`` instead of being flooded.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from datetime import datetime, timedelta, timezone

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from django.conf import settings

from accounts import presence
from accounts.selectors import login_alive, user_for_token
from chatroom import cursors, frames, realtime, selectors, unread
from chatroom.presenters import user_dict
from config.errors import ApplicationError, Throttled, ValidationFailed

logger = logging.getLogger(__name__)

# Close codes from the contract.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429

MAX_FRAME_BYTES = 64 * 1024
PAGE = 200  # messages per database read while catching up
CATCH_UP_MAX = 2000  # beyond this many missed messages, the client resumes by itself
TYPING_RELAY_SECONDS = 2.0  # a typist's "start" is relayed at most this often per room
HEADS_CHECK_SECONDS = 60.0
# A room's newest message younger than this is probably still on its way as
# an event: the heads check leaves it to that.
HEADS_GRACE_SECONDS = 10.0
# After ready, how long live messages wait for the client's resume.
RESUME_GRACE_SECONDS = 2.0
GAP_WAIT_SECONDS = 1.5  # how long an out-of-order message waits for its predecessor
HELD_MAX = 100


def db(fn):
    """Run ``fn`` (database and Redis work) in a worker thread. Not the one
    shared "thread-sensitive" thread: sockets' frames then run side by side,
    each thread keeping its own database connection (CONN_MAX_AGE), and one
    slow write does not hold up every other socket of the process."""
    return database_sync_to_async(fn, thread_sensitive=False)


@functools.lru_cache(maxsize=8192)
def _key(cursor: str) -> tuple:
    """A cursor's sort key. Cached: every socket in a room compares the same
    few cursors."""
    return cursors.decode(cursor)


class ClientConsumer(AsyncWebsocketConsumer):
    user = None
    login: str | None = None  # realtime.login_group of the session or token this socket authenticated with
    login_ref: dict | None = None  # its login_group/login_alive arguments
    _auth_timer: asyncio.Task | None = None
    _beat: asyncio.Task | None = None
    _start_timer: asyncio.Task | None = None

    async def dispatch(self, message):
        """As Channels' own, minus its close_old_connections() before every
        handler: that is a hop to the one shared sync thread per event, i.e.
        per message per socket. This consumer reaches the database only
        through ``db()``, which closes stale connections in its own thread."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # ------------------------------------------------------------------ lifecycle

    async def connect(self):
        self.rooms: dict[str, str | None] = {}  # room id -> cursor of the last message delivered
        self.behind: set[str] = set()  # rooms waiting for the client's resume
        # Rooms whose live messages wait for the client's first resume (or
        # RESUME_GRACE_SECONDS) after ready, so a resume never repeats one.
        self.starting: set[str] = set()
        # room id -> the cursor this socket started delivering after: every
        # message after it, up to self.rooms[room], has been sent.
        self.sent_from: dict[str, str | None] = {}
        self.typing: dict[str, asyncio.Task] = {}  # room id -> the expiry of our typing state
        self.typing_relayed: dict[str, float] = {}
        self.held: dict[str, dict] = {}  # room id -> {previous cursor: (cursor, text)} waiting for a late one
        self.gap_timers: dict[str, asyncio.Task] = {}
        self.tokens, self.tokens_at, self.strikes = float(settings.WS_FRAME_RATE * 2), time.monotonic(), 0
        self.status = presence.ONLINE
        user = self.scope.get("user")
        await self.accept()
        if user is not None and user.is_authenticated:
            if not user.is_active:  # inactive or banned: refused on every face
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
                return
            self.login_ref = {"session_key": self.scope["session"].session_key}
            self.login = realtime.login_group(**self.login_ref)
            await self.on_authenticated(user)
            return
        # No session cookie (mobile clients): the first frame must be
        # {"type": "auth", "token": ...}, within WS_AUTH_TIMEOUT_SECONDS.
        self._auth_timer = asyncio.create_task(self._close_unless_authenticated())

    async def _close_unless_authenticated(self):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECONDS)
        if self.user is None:
            await self.close(code=CLOSE_AUTH_TIMEOUT)

    async def authenticate(self, text_data) -> None:
        """The auth frame: a device session token (accounts.selectors.user_for_token
        refuses bad, revoked, expired and inactive or banned users' tokens)."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            frame = None
        token = frame.get("token") if isinstance(frame, dict) and frame.get("type") == "auth" else None
        found = await db(user_for_token)(token) if isinstance(token, str) else None
        if found is None:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.login_ref = {"device_session_id": found[1].pk}
        self.login = realtime.login_group(**self.login_ref)
        await self.on_authenticated(found[0])

    async def on_authenticated(self, user) -> None:
        """Subscribe to the user's group and every room they are in, then
        send ``ready``. Groups are joined before the rooms' newest cursors are
        read, so a message committed in between arrives live (and one the
        cursor already covers is dropped as a duplicate)."""
        self.user = user
        self.user_id = str(user.id)
        room_ids = await db(selectors.member_room_ids)(user=user)
        # The login's group first: a revoke that commits from here on closes
        # this socket; one that committed before the join is caught below.
        await realtime.join(self.channel_name, [self.login, realtime.user_group(user.id)]
                            + [realtime.room_group(r) for r in room_ids])
        if not await db(login_alive)(**self.login_ref):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        rooms = await db(selectors.socket_rooms)(user=user)
        late = [r["id"] for r in rooms if r["id"] not in room_ids]  # joined meanwhile
        await realtime.join(self.channel_name, [realtime.room_group(r) for r in late])
        self.rooms = {r["id"]: r["cursor"] for r in rooms}
        info = await db(self._ready_info)(list(self.rooms))
        for room in rooms:
            room.update(info.get(room["id"], {}))
        await self.send_frame({"type": "ready", "user": user_dict(user), "rooms": rooms})
        self.starting = set(self.rooms)
        self._beat = asyncio.create_task(self._heartbeat())
        self._start_timer = asyncio.create_task(self._start_after_grace())

    def _ready_info(self, room_ids: list[str]) -> dict:
        presence.update(self.user.id, self.channel_name, self.status)
        counts = unread.counts(self.user)
        online = presence.online_counts(room_ids)
        out = {}
        for room_id in room_ids:
            u, m = next((v for k, v in counts.items() if str(k) == room_id), (0, 0))
            out[room_id] = {"unread": u, "mentions": m, "online_count": online.get(room_id, 0)}
        return out

    async def _heartbeat(self):
        """Keep this connection's presence alive, and now and then ask the
        dispatch loop (through our own channel, so it runs in order with
        everything else) to compare the rooms' newest messages with ours."""
        beat_every = settings.PRESENCE_HEARTBEAT_SECONDS
        # Random first offsets: sockets that connected together (after a
        # server restart) must not all beat and check in the same second.
        next_beat = time.monotonic() + random.uniform(0, beat_every)
        next_check = time.monotonic() + random.uniform(HEADS_CHECK_SECONDS / 2, HEADS_CHECK_SECONDS)
        while True:
            await asyncio.sleep(max(0.0, min(next_beat, next_check) - time.monotonic()))
            now = time.monotonic()
            try:
                if now >= next_beat:
                    next_beat = now + beat_every
                    await db(presence.update)(self.user.id, self.channel_name, self.status)
                if now >= next_check:
                    next_check = now + HEADS_CHECK_SECONDS
                    await self._self_send({"type": "heads.check"})
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed beat must not end the socket
                logger.warning("socket heartbeat failed", exc_info=True)

    async def disconnect(self, code):
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        if self.user is None:
            return
        for task in (self._beat, self._start_timer):
            if task is not None:
                task.cancel()
        for room_id in list(self.typing):
            await self._typing_stop(room_id)
        for room_id in list(self.gap_timers):
            self._drop_held(room_id)
        await realtime.leave(self.channel_name, [self.login, realtime.user_group(self.user.id)]
                             + [realtime.room_group(r) for r in self.rooms])
        try:
            await db(presence.update)(self.user.id, self.channel_name, presence.GONE)
        except Exception:  # noqa: BLE001 - the sweep ends the session from its last heartbeat
            logger.warning("presence update on disconnect failed", exc_info=True)

    # ------------------------------------------------------------------ client -> server

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None:
            if text_data is not None and len(text_data.encode()) <= MAX_FRAME_BYTES:
                await self.authenticate(text_data)
            else:
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if not self._take_token():
            await self._refuse(Throttled("Too many frames; slow down."))
            return
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_error("validation_error", f"Frames are JSON text of at most {MAX_FRAME_BYTES} bytes.")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.send_error("validation_error", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("validation_error", "A frame is a JSON object with a string 'type'.")
            return
        handler = self.handlers.get(frame["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type'][:50]!r}.", ref=frame["type"][:50])
            return
        try:
            await handler(self, frame)
        except Throttled as exc:
            await self._refuse(exc, ref=self._ref(frame))
        except ApplicationError as exc:
            await self.send_error(exc.code, exc.message, ref=self._ref(frame), fields=exc.fields)

    @staticmethod
    def _ref(frame: dict):
        ref = frame.get("client_id") or frame.get("message_id") or frame.get("room_id") or frame.get("type")
        return ref if isinstance(ref, str) else None

    def _take_token(self) -> bool:
        """A per-socket token bucket over all frames (WS_FRAME_RATE a second)."""
        now = time.monotonic()
        rate = settings.WS_FRAME_RATE
        self.tokens = min(rate * 2.0, self.tokens + (now - self.tokens_at) * rate)
        self.tokens_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def _refuse(self, exc: Throttled, ref=None) -> None:
        """A rate-limited frame gets an error; WS_ABUSE_STRIKES in a row close
        the socket with 4429."""
        self.strikes += 1
        if self.strikes >= settings.WS_ABUSE_STRIKES:
            await self.send_error(exc.code, "Too many refused frames; closing.", ref=ref)
            await self.close(code=CLOSE_TOO_MANY)
            return
        await self.send_error(exc.code, exc.message, ref=ref)

    async def on_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})

    async def on_message_send(self, frame: dict) -> None:
        ack = await db(frames.message_send)(self.user, frame)
        self.strikes = 0
        await self.send_frame(ack)

    def _service(fn):  # noqa: N805 - a table helper, not a method
        async def handler(self, frame: dict) -> None:
            await db(fn)(self.user, frame)
            self.strikes = 0

        return handler

    async def on_typing(self, frame: dict) -> None:
        room_id, state = await db(frames.typing_room)(self.user, frame)
        if state == "stop":
            await self._typing_stop(room_id)
            return
        timer = self.typing.pop(room_id, None)
        if timer is not None:
            timer.cancel()
        # Expires TYPING_TTL_SECONDS after the last "start" unless refreshed.
        self.typing[room_id] = asyncio.create_task(self._typing_expire(room_id))
        now = time.monotonic()
        if now - self.typing_relayed.get(room_id, 0.0) >= TYPING_RELAY_SECONDS:
            self.typing_relayed[room_id] = now
            await self._typing_send(room_id, "start")

    async def _typing_expire(self, room_id: str) -> None:
        await asyncio.sleep(settings.TYPING_TTL_SECONDS)
        self.typing.pop(room_id, None)
        self.typing_relayed.pop(room_id, None)
        await self._typing_send(room_id, "stop")

    async def _typing_stop(self, room_id: str) -> None:
        timer = self.typing.pop(room_id, None)
        if timer is None:
            return  # not typing there: nothing to take back
        timer.cancel()
        self.typing_relayed.pop(room_id, None)
        await self._typing_send(room_id, "stop")

    async def _typing_send(self, room_id: str, state: str) -> None:
        await realtime.send_now([realtime.room_group(room_id)], frames.typing_frame(self.user, room_id, state),
                                room=room_id, sender=self.user_id)

    async def on_presence(self, frame: dict) -> None:
        """Addition to api.md: a client says it is ``away`` (its page is hidden)
        or ``online`` again; the user's status is the best of their sockets."""
        status = frame.get("status")
        if status not in (presence.ONLINE, presence.AWAY):
            raise ValidationFailed(fields={"status": ["online or away."]})
        if status != self.status:
            self.status = status
            await db(presence.update)(self.user.id, self.channel_name, status)

    async def on_resume(self, frame: dict) -> None:
        rooms = await db(frames.resume_rooms)(self.user, frame)
        for room_id, cursor in rooms.items():
            if room_id not in self.rooms:
                await self.send_error("permission_denied", "You are not a member of this room.", ref=room_id)
                continue
            paused = room_id in self.starting or room_id in self.behind
            self.starting.discard(room_id)
            self.behind.discard(room_id)
            if paused:
                # No live message was sent since: everything after the
                # client's cursor, from the database, then live.
                self.rooms[room_id] = self.sent_from[room_id] = cursor
                await self._catch_up(room_id)
            else:
                await self._resend_before(room_id, cursor)

    async def _start_after_grace(self) -> None:
        await asyncio.sleep(RESUME_GRACE_SECONDS)
        await self._self_send({"type": "rooms.start"})

    async def rooms_start(self, event: dict) -> None:
        """No resume came for these rooms: deliver from the newest message
        at ready (what arrived since, from the database), then live."""
        for room_id in list(self.starting):
            self.starting.discard(room_id)
            self.sent_from[room_id] = self.rooms.get(room_id)
            if room_id in self.rooms:
                await self._catch_up(room_id)

    async def _resend_before(self, room_id: str, cursor: str | None) -> None:
        """A resume after live delivery began: send what the client missed
        before this socket's first delivery; what came after, it has."""
        upto = self.sent_from.get(room_id)
        if upto is None or (cursor is not None and _key(cursor) >= _key(upto)):
            return
        after = cursor
        while True:
            messages, more = await db(selectors.messages_after)(
                user=self.user, room_id=room_id, cursor=after, limit=PAGE)
            for message in messages:
                if _key(message["cursor"]) > _key(upto):
                    return
                await self.send_frame({"type": "message.new", "message": message})
                after = message["cursor"]
            if not more:
                return

    async def on_job_subscribe(self, frame: dict) -> None:
        start = await db(frames.job_subscribe)(self.user, frame)
        await realtime.join(self.channel_name, [realtime.job_group(start["job"]["id"])])
        await self.send_frame(start)

    handlers = {
        "ping": on_ping,
        "message.send": on_message_send,
        "message.edit": _service(frames.message_edit),
        "message.delete": _service(frames.message_delete),
        "reaction.add": _service(frames.reaction_add),
        "reaction.remove": _service(frames.reaction_remove),
        "read": _service(frames.read),
        "typing": on_typing,
        "presence": on_presence,
        "resume": on_resume,
        "job.subscribe": on_job_subscribe,
    }

    # ------------------------------------------------------------------ server -> client

    async def client_frame(self, event: dict) -> None:
        if time.time() - event.get("at", time.time()) > settings.WS_MAX_LAG_SECONDS:
            await self._fell_behind()
        kind = event["kind"]
        room_id = event.get("room")
        if kind == realtime.SESSION_END:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if kind == "member.joined" and event.get("subject") == self.user_id:
            if room_id in self.rooms:
                return  # another copy of our own join
            await self._room_joined(room_id)
        elif room_id is not None and (room_id not in self.rooms or room_id in self.behind):
            return  # a room we left (frames queued before we left), or one waiting for resume
        elif kind == "member.left" and event.get("subject") == self.user_id:
            await self._room_left(room_id)
        elif kind == "room.deleted":
            await self._room_left(room_id)
        elif kind == "typing" and event.get("sender") == self.user_id:
            return  # never back to the typist, on any of their sockets
        elif kind == "message.new":
            await self._deliver_new(room_id, event["text"], event["cursor"], event.get("prev"))
            return
        await self.send(text_data=event["text"])

    async def _room_joined(self, room_id: str) -> None:
        await realtime.join(self.channel_name, [realtime.room_group(room_id)])
        heads = await db(selectors.room_heads)([room_id])
        self.rooms[room_id] = self.sent_from[room_id] = next(iter(heads.values()), None)
        await db(presence.room_membership_changed)(self.user.id, room_id, member=True)

    async def _room_left(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)
        self.behind.discard(room_id)
        self.starting.discard(room_id)
        self._drop_held(room_id)
        await self._typing_stop(room_id)
        await realtime.leave(self.channel_name, [realtime.room_group(room_id)])
        await db(presence.room_membership_changed)(self.user.id, room_id, member=False)

    async def _deliver_new(self, room_id: str, text: str, cursor: str, prev: str | None) -> None:
        if room_id in self.starting:
            return  # sent from the database when the room starts
        last = self.rooms[room_id]
        if last is not None and _key(cursor) <= _key(last):
            return  # delivered already (by a catch-up, or a second copy)
        if prev == last or (prev is not None and last is not None and _key(prev) < _key(last)):
            await self._send_new(room_id, text, cursor)
            await self._release_held(room_id)
            return
        # Out of order: its predecessor is missing. Usually it is only late
        # (two commits in a row whose broadcasts overtook each other); hold
        # this one for GAP_WAIT_SECONDS, then fetch the gap from the database.
        held = self.held.setdefault(room_id, {})
        held[prev] = (cursor, text)
        if len(held) > HELD_MAX:
            await self._catch_up(room_id)
        elif room_id not in self.gap_timers:
            self.gap_timers[room_id] = asyncio.create_task(self._gap_timer(room_id))

    async def _send_new(self, room_id: str, text: str, cursor: str) -> None:
        self.rooms[room_id] = cursor
        await self.send(text_data=text)

    async def _release_held(self, room_id: str) -> None:
        """Send held messages that now follow in order."""
        held = self.held.get(room_id)
        while held and self.rooms[room_id] in held:
            cursor, text = held.pop(self.rooms[room_id])
            await self._send_new(room_id, text, cursor)
        if held:
            last = _key(self.rooms[room_id])
            for prev in [p for p, (c, _) in held.items() if _key(c) <= last]:
                del held[prev]
        if not held:
            self._drop_held(room_id)

    def _drop_held(self, room_id: str) -> None:
        self.held.pop(room_id, None)
        timer = self.gap_timers.pop(room_id, None)
        if timer is not None:
            timer.cancel()

    async def _gap_timer(self, room_id: str) -> None:
        await asyncio.sleep(GAP_WAIT_SECONDS)
        await self._self_send({"type": "gap.fill", "room": room_id})

    async def _self_send(self, event: dict) -> None:
        """Queue work for the dispatch loop, through our own channel, so it
        runs in order with the events."""
        await self.channel_layer.send(self.channel_name, event)

    async def gap_fill(self, event: dict) -> None:
        room_id = event["room"]
        self.gap_timers.pop(room_id, None)
        if self.held.get(room_id) and room_id in self.rooms and room_id not in self.behind:
            await self._catch_up(room_id)

    async def _fell_behind(self) -> None:
        """Frames reach us long after they were sent: the client reads slower
        than its rooms talk. Rather than relay a stale backlog (or skip it),
        every room pauses and the client is told to resume from its cursors;
        the backlog is then dropped unread."""
        for room_id in self.rooms:
            if room_id not in self.behind:
                await self._ask_resume(room_id)

    async def _ask_resume(self, room_id: str) -> None:
        """Pause a room's live messages until the client sends resume."""
        self.behind.add(room_id)
        self._drop_held(room_id)
        await self.send_error("resume_required", "Too far behind; send resume with your last cursor.", ref=room_id)

    async def _catch_up(self, room_id: str) -> None:
        """Send every message after the room's remembered cursor, from the
        database, in order. Past CATCH_UP_MAX the client is told to resume
        (its own history reads are paged) and the room pauses until it does."""
        self._drop_held(room_id)  # the database has them all
        sent = 0
        while True:
            try:
                messages, more = await db(selectors.messages_after)(
                    user=self.user, room_id=room_id, cursor=self.rooms[room_id], limit=PAGE)
            except ApplicationError:  # no longer a member: the member.left event is on its way
                return
            for message in messages:
                await self.send_frame({"type": "message.new", "message": message})
                self.rooms[room_id] = message["cursor"]
            sent += len(messages)
            if not more:
                return
            if sent >= CATCH_UP_MAX:
                await self._ask_resume(room_id)
                return

    async def heads_check(self, event: dict) -> None:
        rooms = [r for r in self.rooms if r not in self.behind and r not in self.starting]
        heads = await db(selectors.room_heads)(rooms)
        settled = datetime.now(timezone.utc) - timedelta(seconds=HEADS_GRACE_SECONDS)
        for room_id, head in heads.items():
            room_id = str(room_id)
            last = self.rooms.get(room_id)
            if head is None or _key(head)[0] > settled:
                continue
            if room_id in self.rooms and (last is None or _key(head) > _key(last)):
                await self._catch_up(room_id)
                # The head may be a removed message this user does not see;
                # everything up to it has been sent either way.
                last = self.rooms.get(room_id)
                if room_id in self.rooms and room_id not in self.behind and (last is None or _key(head) > _key(last)):
                    self.rooms[room_id] = head

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, default=str))

    async def send_error(self, code: str, message: str, ref: str | None = None, fields: dict | None = None) -> None:
        frame = {"type": "error", "code": code, "message": message}
        if ref is not None:
            frame["ref"] = ref
        if fields:
            frame["fields"] = fields
        await self.send_frame(frame)
