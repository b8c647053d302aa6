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

Faults and bad input never end a socket by accident. Every client frame is
answered: its reply, or an ``error`` frame (``ref`` names the frame), however
malformed it is. A database that stops answering gives ``error
{code: service_unavailable, retry_after}`` and the socket stays; Django
reconnects on the next frame. Redis (the channel layer and presence) going
away means live frames can no longer arrive, so the socket says so with the
same error and closes with 1013 (try again later); the client reconnects and
resumes from its cursors once Redis is back, from the database, without loss.
A client that is gone is never written to: its pending frames are dropped and
its disconnect runs, so its presence ends at once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import random
import time
import weakref
from datetime import datetime, timedelta, timezone

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts import presence
from accounts.selectors import login_alive, user_for_token
from chatroom import cursors, frames, realtime, selectors, unread
from chatroom.presenters import user_dict
from config import safejson
from config.errors import ApplicationError, ServiceUnavailable, Throttled, ValidationFailed
from config.faults import DATABASE_ERRORS as DATABASE_DOWN
from config.faults import REDIS_ERRORS

logger = logging.getLogger(__name__)

# The channel layer's redis-py calls also surface a refused or vanished
# socket as a bare OSError; nothing else in a consumer raises one.
REDIS_DOWN = REDIS_ERRORS + (OSError,)

# Close codes from the contract.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
# RFC 6455's "try again later": Redis is down; reconnect, then resume.
CLOSE_TRY_AGAIN_LATER = 1013

MAX_FRAME_BYTES = 64 * 1024
MAX_REF_LENGTH = 200
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
# retry_after of service_unavailable: Django reconnects to the database on
# the next frame; a socket closed for Redis comes back through the client's
# reconnect, which backs off by itself.
DATABASE_RETRY_SECONDS = 2
REDIS_RETRY_SECONDS = 5


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


def _database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database is not answering; try again shortly.", retry_after=DATABASE_RETRY_SECONDS)


def _redis_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("Live delivery is down (Redis); reconnect and resume shortly.",
                              retry_after=REDIS_RETRY_SECONDS)


def decode_frame(text_data: str | None) -> dict:
    """A client frame as a dict with a string ``type``, or ValidationFailed:
    binary, over MAX_FRAME_BYTES, not JSON, nested too deep, holding NUL or
    lone surrogates (config.safejson, the same bounds as the API's bodies),
    or not an object."""
    if text_data is None:
        raise ValidationFailed("Frames are JSON text, not binary.")
    if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise ValidationFailed(f"Frames are JSON text of at most {MAX_FRAME_BYTES} bytes.")
    frame = safejson.loads(text_data, field="frame")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValidationFailed("A frame is a JSON object with a string 'type'.")
    return frame


def frame_ref(frame) -> str | None:
    """What an error about ``frame`` names as ``ref``: its client_id (so a
    message.send is never left unanswered), else the message or room it is
    about, else its type. Only short, storable text is echoed."""
    if not isinstance(frame, dict):
        return None
    for field in ("client_id", "message_id", "room_id", "type"):
        ref = frame.get(field)
        if isinstance(ref, str) and ref and len(ref) <= MAX_REF_LENGTH:
            try:
                return safejson.check_text(ref)
            except ValidationFailed:
                return None
    return None


def refused_frame_ref(text_data: str | None) -> str | None:
    """The ref of a frame decode_frame refused, when it still parses within
    the depth bound (its text held NUL or a lone surrogate, say): the
    client_id of a refused message.send must come back with its error."""
    if not text_data or len(text_data) > MAX_FRAME_BYTES or safejson.too_deep(text_data):
        return None
    try:
        return frame_ref(json.loads(text_data))
    except ValueError:
        return None


# One presence sweep per event loop (server process): a socket whose server
# died stops beating, and some live process must notice (accounts.presence.sweep).
_sweepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _ensure_sweeper() -> None:
    every = settings.PRESENCE_SWEEP_SECONDS
    if every <= 0:
        return
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = loop.create_task(_sweep_forever(every))


async def _sweep_forever(every: float) -> None:
    await asyncio.sleep(random.uniform(0, every))  # processes started together sweep apart
    while True:
        try:
            await db(presence.sweep)()
        except Exception as exc:  # noqa: BLE001 - Redis or the database down: the next round retries
            logger.warning("presence sweep failed: %s", exc)
        await asyncio.sleep(every)


class ClientConsumer(AsyncWebsocketConsumer):
    user = None
    login: str | None = None  # realtime.login_group of the session or token this socket authenticated with
    login_ref: dict | None = None  # its login_group/login_alive arguments

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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
        self.client_gone = False  # the client hung up: nothing more is written to it
        self.closing = False  # we sent a close: no frame is handled any more
        self.ended = False
        self._auth_timer: asyncio.Task | None = None
        self._beat: asyncio.Task | None = None
        self._start_timer: asyncio.Task | None = None
        self._presence_update: asyncio.Future | None = None  # the newest presence write, maybe in flight

    async def __call__(self, scope, receive, send):
        async def send_unless_gone(message):
            # A client that hung up makes the server's send raise (uvicorn's
            # ClientDisconnected, an OSError). Raised here it would end the
            # consumer silently, before the disconnect event queued behind
            # it could run, leaving the socket's presence alive: a closed
            # tab's own "away" broadcast, relayed back to it as it closed,
            # did exactly that. So the frame is dropped, and the disconnect
            # runs next.
            if self.client_gone:
                return
            try:
                await send(message)
            except OSError:
                self.client_gone = True

        try:
            await super().__call__(scope, receive, send_unless_gone)
        except REDIS_DOWN:
            if getattr(self, "channel_name", None) is not None:
                raise
            # Redis refused this socket's own channel (Channels makes it
            # before the handshake): answer the handshake, say why, close.
            if (await receive())["type"] == "websocket.connect":
                await send_unless_gone({"type": "websocket.accept"})
                await self._send_unavailable(_redis_unavailable(), send_unless_gone)
        finally:
            await self._end()  # idempotent; also when the consumer ended by an exception

    async def _send_unavailable(self, exc: ServiceUnavailable, send) -> None:
        await send({"type": "websocket.send", "text": json.dumps(self._error_frame(exc, None))})
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def dispatch(self, message):
        """As Channels' own, minus its close_old_connections() before every
        handler: that is a hop to the one shared sync thread per event, i.e.
        per message per socket. This consumer reaches the database only
        through ``db()``, which closes stale connections in its own thread.

        The socket's own events (websocket.*) handle their faults themselves;
        a channel-layer event (a relayed frame, a check) that meets one must
        not end the socket either."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if message["type"].startswith("websocket."):
            await handler(message)
            return
        if self.closing:
            return
        await self._guarded(handler(message), ref=None, answer=False)

    async def _guarded(self, work, *, ref: str | None, answer: bool) -> None:
        """Await ``work`` (a frame's or an event's handling); turn what it
        raises into an ``error`` frame (``answer``: a client frame, which is
        always answered) or a log line, never into the socket's end.
        Redis failing closes the socket (see the module docstring)."""
        try:
            await work
        except Throttled as exc:
            await self._refuse(exc, ref=ref)
        except ApplicationError as exc:
            if answer:
                await self.send_exception(exc, ref=ref)
        except DATABASE_DOWN as exc:
            logger.warning("socket: database unavailable: %s", exc)
            if answer:
                await self.send_exception(_database_unavailable(), ref=ref)
        except REDIS_DOWN as exc:
            logger.warning("socket: Redis unavailable, closing: %s", exc)
            await self._close_for_redis(ref)
        except Exception:  # noqa: BLE001 - a bug; the socket and its other frames go on
            logger.exception("socket: handling %s failed", "a frame" if answer else "an event")
            if answer:
                await self.send_error("server_error", "An unexpected error occurred.", ref=ref)

    async def _close_for_redis(self, ref: str | None = None) -> None:
        if self.closing:
            return
        await self.send_exception(_redis_unavailable(), ref=ref)
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code, reason)

    # ------------------------------------------------------------------ lifecycle

    async def connect(self):
        _ensure_sweeper()
        user = self.scope.get("user")
        await self.accept()
        if self.scope.get("auth_unavailable"):  # the session could not be read
            await self.send_exception(_database_unavailable())
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if user is not None and user.is_authenticated:
            if not user.is_active:  # inactive or banned: refused on every face
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
                return
            self.login_ref = {"session_key": self.scope["session"].session_key}
            self.login = realtime.login_group(**self.login_ref)
            await self._start(user)
            return
        # No session cookie (mobile clients): the first frame must be
        # {"type": "auth", "token": ...}, within WS_AUTH_TIMEOUT_SECONDS.
        self._auth_timer = asyncio.create_task(self._close_unless_authenticated())

    def _unauthenticated_close(self, code: int) -> int:
        """A socket whose session cookie came from an origin that may not use
        it (config.socket_auth), and that sent no valid auth frame, is
        forbidden rather than unauthenticated."""
        return CLOSE_FORBIDDEN if self.scope.get("cookie_refused") else code

    async def _close_unless_authenticated(self):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECONDS)
        if self.user is None:
            await self.close(code=self._unauthenticated_close(CLOSE_AUTH_TIMEOUT))

    async def authenticate(self, text_data) -> None:
        """The auth frame: a device session token (accounts.selectors.user_for_token
        refuses bad, revoked, expired and inactive or banned users' tokens).
        Anything else closes the socket."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        try:
            frame = decode_frame(text_data)
        except ValidationFailed:
            frame = None
        token = frame.get("token") if frame is not None and frame["type"] == "auth" else None
        try:
            found = await db(user_for_token)(token) if isinstance(token, str) else None
        except DATABASE_DOWN + REDIS_DOWN as exc:
            logger.warning("socket auth: the token could not be checked: %s", exc)
            await self.send_exception(_database_unavailable(), ref="auth")
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if found is None:
            await self.close(code=self._unauthenticated_close(CLOSE_NOT_AUTHENTICATED))
            return
        self.login_ref = {"device_session_id": found[1].pk}
        self.login = realtime.login_group(**self.login_ref)
        await self._start(found[0])

    async def _start(self, user) -> None:
        """on_authenticated, or, when the database or Redis fails on the
        way, an error and close 1013: without ``ready`` the socket is of no
        use, and the client's reconnect starts over."""
        try:
            await self.on_authenticated(user)
        except DATABASE_DOWN as exc:
            logger.warning("socket start: database unavailable: %s", exc)
            await self.send_exception(_database_unavailable())
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
        except REDIS_DOWN as exc:
            logger.warning("socket start: Redis unavailable: %s", exc)
            await self._close_for_redis()

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
        self._start_timer = self._background(self._start_after_grace())

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
                    await self._presence(self.status)
                if now >= next_check:
                    next_check = now + HEADS_CHECK_SECONDS
                    await self._self_send({"type": "heads.check"})
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as exc:
                # Presence and the channel layer share Redis: live frames have
                # stopped arriving too. Say so and let the client come back.
                logger.warning("socket heartbeat: Redis unavailable, closing: %s", exc)
                await self._close_for_redis()
                return
            except Exception as exc:  # noqa: BLE001 - the database, say; the next beat retries
                logger.warning("socket heartbeat failed: %s", exc)

    async def _presence(self, op: str) -> None:
        """Record this connection's status, heartbeat or end. The update runs
        on to completion even when the awaiting task is cancelled (a beat
        when the socket closes), and the socket's end waits for it, so a
        beat can never land after the ``gone`` and bring a closed socket
        back to life."""
        update = asyncio.ensure_future(db(presence.update)(self.user.id, self.channel_name, op))
        self._presence_update = update
        await asyncio.shield(update)

    async def disconnect(self, code):
        await self._end()

    async def _end(self) -> None:
        """Everything a socket leaves behind, once, however it ended: timers,
        typing, groups, presence."""
        if self.ended:
            return
        self.ended = True
        for task in (self._auth_timer, self._beat, self._start_timer, *self.gap_timers.values()):
            if task is not None:
                task.cancel()
        if self.user is None:
            return
        try:
            for room_id in list(self.typing):
                await self._typing_stop(room_id)
            await realtime.leave(self.channel_name, [self.login, realtime.user_group(self.user.id)]
                                 + [realtime.room_group(r) for r in self.rooms])
        except REDIS_DOWN as exc:
            logger.warning("socket end: Redis unavailable: %s", exc)
        in_flight = self._presence_update
        if in_flight is not None:
            await asyncio.wait([in_flight])
            if not in_flight.cancelled():
                in_flight.exception()  # seen: a beat that failed is the sweep's to clean up
        try:
            await self._presence(presence.GONE)
        except Exception as exc:  # noqa: BLE001 - the sweep ends the session from its last heartbeat
            logger.warning("presence update on disconnect failed: %s", exc)

    # ------------------------------------------------------------------ client -> server

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return  # closed by us; the client's frames in flight are dropped
        if self.user is None:
            await self.authenticate(text_data)
            return
        refusal = None
        try:
            frame = decode_frame(text_data)
            ref = frame_ref(frame)
        except ValidationFailed as exc:
            frame, ref, refusal = None, refused_frame_ref(text_data), exc
        if not self._take_token():
            await self._refuse(Throttled("Too many frames; slow down.", retry_after=self._token_wait()), ref=ref)
            return
        if refusal is not None:
            await self.send_exception(refusal, ref=ref)
            return
        handler = self.handlers.get(frame["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type'][:50]!r}.", ref=ref)
            return
        await self._guarded(handler(self, frame), ref=ref, answer=True)

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

    def _token_wait(self) -> float:
        """Seconds until the bucket holds a token again (hundredths, rounded up)."""
        return max(0.01, math.ceil((1 - self.tokens) / settings.WS_FRAME_RATE * 100) / 100)

    async def _refuse(self, exc: Throttled, ref=None) -> None:
        """A rate-limited frame gets an error with ``retry_after``;
        WS_ABUSE_STRIKES in a row close the socket with 4429."""
        self.strikes += 1
        if self.strikes >= settings.WS_ABUSE_STRIKES:
            await self.send_exception(Throttled("Too many refused frames; closing.", retry_after=exc.retry_after),
                                      ref=ref)
            await self.close(code=CLOSE_TOO_MANY)
            return
        await self.send_exception(exc, ref=ref)

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
        self.typing[room_id] = self._background(self._typing_expire(room_id))
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
            await self._presence(status)

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
            self.gap_timers[room_id] = self._background(self._gap_timer(room_id))

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

    def _background(self, work) -> asyncio.Task:
        """A timer's task, its faults handled as an event's."""
        return asyncio.create_task(self._guarded(work, ref=None, answer=False))

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

    async def realtime_behind(self, event: dict) -> None:
        """The channel layer dropped live events for this socket (realtime.layer:
        it fell behind, or the process lost its Redis subscription). Anything
        since may be missing, so check the login and memberships, and catch
        every room up from the database now."""
        if self.user is None:
            return
        if not await db(login_alive)(**self.login_ref):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        member_of = set(await db(selectors.member_room_ids)(user=self.user))
        for room_id in [r for r in self.rooms if r not in member_of]:
            await self._room_left(room_id)
        started = set(self.starting)
        await self.rooms_start(event)  # rooms still waiting for a resume start (and catch up) now
        for room_id in [r for r in self.rooms if r not in self.behind and r not in started]:
            await self._catch_up(room_id)

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, default=str))

    async def send_error(self, code: str, message: str, ref: str | None = None, fields: dict | None = None) -> None:
        await self.send_exception(ApplicationError(message, code=code, fields=fields), ref=ref)

    async def send_exception(self, exc: ApplicationError, ref: str | None = None) -> None:
        await self.send_frame(self._error_frame(exc, ref))

    @staticmethod
    def _error_frame(exc: ApplicationError, ref: str | None) -> dict:
        """api.md's ``error {code, message, ref?}``, with ``fields`` for bad
        input and ``retry_after`` (seconds) when waiting helps: throttled,
        service_unavailable."""
        frame = {"type": "error", **exc.as_dict()}
        if ref is not None:
            frame["ref"] = ref
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            frame["retry_after"] = retry_after
        return frame
