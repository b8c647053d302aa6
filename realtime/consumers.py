"""The client WebSocket at /ws/ (api.md, "WebSocket"), a thin dispatcher.

One socket per client. Frames are JSON objects with a ``type``. The socket
answers ``auth``, ``ping``, ``presence`` and ``resume`` itself; every other
type is looked up in the registry the apps fill in (realtime.registry:
chatroom's chat frames, jobs' ``job.subscribe``), and its handler calls that
app's services. Everything the services broadcast arrives as a
``client.frame`` group event (realtime.broadcast) and is relayed here.

Delivery without loss, in order and without duplicates, is
realtime.delivery.Delivery's: the socket hands it the live ``message.new``
events, its timers' wake-ups, the client's ``resume`` and the channel
layer's ``realtime.behind``. Typing is realtime.typing_relay's, presence
realtime.presence's, and the guard against faults and abuse (every frame
answered, none ending the socket by accident) realtime.guarded_socket's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from config.faults import DATABASE_ERRORS as DATABASE_DOWN
from core.errors import Throttled, ValidationFailed
from core.replicas import acting_as
from realtime import broadcast, presence, registry, signals
from realtime.delivery import Delivery, parse_resume
from realtime.framing import decode_frame, frame_ref, refused_frame_ref
from realtime.guarded_socket import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_TRY_AGAIN_LATER,
    REDIS_DOWN,
    GuardedSocket,
    database_unavailable,
)
from realtime.languages import in_language, interpolate, localized_text, user_language
from realtime.sweeper import ensure_sweeper
from realtime.threads import db
from realtime.typing_relay import TypingRelay

logger = logging.getLogger(__name__)

HEADS_CHECK_SECONDS = 60.0
# After ready, how long live messages wait for the client's resume.
RESUME_GRACE_SECONDS = 2.0


@functools.lru_cache(maxsize=8192)
def _key(cursor: str) -> tuple:
    """A cursor's sort key. Cached: every socket in a room compares the same
    few cursors."""
    return registry.rooms().cursor_key(cursor)


class ClientConsumer(GuardedSocket):
    user = None
    login: str | None = None  # broadcast.login_group of the session or token this socket authenticated with
    login_ref: dict | None = None  # its login_group/login_alive arguments

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.room_source = registry.rooms()
        self.delivery = Delivery(key=_key, fetch=self._messages_after, heads=db(self.room_source.heads),
                                 send=self._send_text, send_error=self.send_error, wake=self._wake,
                                 spawn=self._background)
        self.typing: TypingRelay | None = None  # once authenticated
        self.status = presence.ONLINE
        self.ended = False
        self._auth_timer: asyncio.Task | None = None
        self._beat: asyncio.Task | None = None
        self._start_timer: asyncio.Task | None = None
        self._presence_update: asyncio.Future | None = None  # the newest presence write, maybe in flight
        self.counted = False  # accepted, and told to signals.socket_opened

    # ------------------------------------------------------------------ lifecycle

    async def connect(self):
        ensure_sweeper()
        user = self.scope.get("user")
        await self.accept()
        self.counted = True
        signals.socket_opened.send(sender=type(self))
        if self.scope.get("auth_unavailable"):  # the session could not be read
            await self.send_exception(database_unavailable())
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if user is not None and user.is_authenticated:
            if not user.is_active:  # inactive or banned: refused on every face
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
                return
            self.login_ref = {"session_key": self.scope["session"].session_key}
            self.login = broadcast.login_group(**self.login_ref)
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
        """The auth frame: a device session token (the registered logins'
        user_for_token refuses bad, revoked, expired and inactive or banned
        users' tokens). Anything else closes the socket."""
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        try:
            frame = decode_frame(text_data)
        except ValidationFailed:
            frame = None
        token = frame.get("token") if frame is not None and frame["type"] == "auth" else None
        try:
            found = await db(registry.logins().user_for_token)(token) if isinstance(token, str) else None
        except DATABASE_DOWN + REDIS_DOWN as exc:
            logger.warning("socket auth: the token could not be checked: %s", exc)
            await self.send_exception(database_unavailable(), ref="auth")
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if found is None:
            await self.close(code=self._unauthenticated_close(CLOSE_NOT_AUTHENTICATED))
            return
        user, login = found
        self.login_ref = {"device_session_id": login.pk}
        self.login = broadcast.login_group(**self.login_ref)
        await self._start(user)

    async def _start(self, user) -> None:
        """on_authenticated, or, when the database or Redis fails on the
        way, an error and close 1013: without ``ready`` the socket is of no
        use, and the client's reconnect starts over."""
        try:
            await self.on_authenticated(user)
        except DATABASE_DOWN as exc:
            logger.warning("socket start: database unavailable: %s", exc)
            await self.send_exception(database_unavailable())
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
        self.typing = TypingRelay(sender_id=self.user_id, spawn=self._background)
        # From here on the socket speaks its user's language (realtime.languages).
        self.language, room_ids = await db(self._first_reads)(user, self.language)
        # The login's group first: a revoke that commits from here on closes
        # this socket; one that committed before the join is caught below.
        await broadcast.join(self.channel_name, [self.login, broadcast.user_group(user.id)]
                             + [broadcast.room_group(r) for r in room_ids])
        if not await db(registry.logins().login_alive)(**self.login_ref):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        rooms = await db(in_language(self.language, self.room_source.ready_rooms))(user=user)
        extra = await db(self.room_source.ready_extra)(user)
        late = [r["id"] for r in rooms if r["id"] not in room_ids]  # joined meanwhile
        await broadcast.join(self.channel_name, [broadcast.room_group(r) for r in late])
        self.delivery.ready({r["id"]: r["cursor"] for r in rooms})
        online = await db(self._go_online)(self.delivery.room_ids())
        for room in rooms:
            room["online_count"] = online.get(room["id"], 0)
        await self.send_frame({**extra, "type": "ready", "user": self.room_source.present_user(user), "rooms": rooms})
        self._beat = asyncio.create_task(self._heartbeat())
        self._start_timer = self._background(self._start_after_grace())

    def _first_reads(self, user, language: str) -> tuple[str, list[str]]:
        """The user's language and their rooms' ids, in one trip to a thread."""
        return user_language(user, language), self.room_source.member_room_ids(user=user)

    def _go_online(self, room_ids: list[str]) -> dict:
        """This connection's presence, then the rooms' online counts (which
        now count it)."""
        presence.update(self.user.id, self.channel_name, self.status)
        return presence.online_counts(room_ids)

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
        if self.counted:
            signals.socket_closed.send(sender=type(self))
        for task in (self._auth_timer, self._beat, self._start_timer):
            if task is not None:
                task.cancel()
        self.delivery.close()
        if self.user is None:
            return
        try:
            await self.typing.stop_all()
            await broadcast.leave(self.channel_name, [self.login, broadcast.user_group(self.user.id)]
                                  + [broadcast.room_group(r) for r in self.delivery.room_ids()])
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
        signals.frame_received.send(sender=type(self), frame_type=frame["type"] if frame else "invalid")
        if not self._take_token():
            await self._refuse(Throttled(_("Too many frames; slow down."), retry_after=self._token_wait()), ref=ref)
            return
        if refusal is not None:
            await self.send_exception(refusal, ref=ref)
            return
        work = self._handling(frame)
        if work is None:
            await self.send_error("unknown_type", interpolate(_("Unknown frame type %(type)s."),
                    {"type": repr(frame["type"][:50])}), ref=ref)
            return
        await self._guarded(work, ref=ref, answer=True)

    def _handling(self, frame: dict):
        """The work that answers ``frame``: the socket's own (ping, presence,
        resume), a registered handler's, or None for an unknown type."""
        own = {"ping": self.on_ping, "presence": self.on_presence, "resume": self.on_resume}.get(frame["type"])
        if own is not None:
            return own(frame)
        entry = registry.frame_handler(frame["type"])
        return self._run_handler(entry, frame) if entry is not None else None

    async def _run_handler(self, entry: registry.FrameHandler, frame: dict) -> None:
        """A registered handler, in a worker thread; then what it answered:
        nothing, a frame back, a subscription, a typing change."""
        # Acting for the user: a frame that writes pins their reads to the
        # primary for REPLICA_PIN_SECONDS (core.replicas).
        result = await db(in_language(self.language, acting_as(self.user.id, entry.handle, writes=entry.write)))(
            self.user, frame)
        if entry.write:
            self.strikes = 0
        if isinstance(result, registry.Typing):
            await self.typing.change(result)
        elif isinstance(result, registry.Subscribe):
            await broadcast.join(self.channel_name, result.groups)
            await self.send_frame(result.frame)
        elif result is not None:
            await self.send_frame(result)

    async def on_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})

    async def on_presence(self, frame: dict) -> None:
        """Addition to api.md: a client says it is ``away`` (its page is hidden)
        or ``online`` again; the user's status is the best of their sockets."""
        status = frame.get("status")
        if status not in (presence.ONLINE, presence.AWAY):
            raise ValidationFailed(fields={"status": [_("online or away.")]})
        if status != self.status:
            self.status = status
            await self._presence(status)

    async def on_resume(self, frame: dict) -> None:
        await self.delivery.resume(parse_resume(frame, key=_key))

    async def _start_after_grace(self) -> None:
        await asyncio.sleep(RESUME_GRACE_SECONDS)
        await self._self_send({"type": "rooms.start"})

    # ------------------------------------------------------------------ server -> client

    async def client_frame(self, event: dict) -> None:
        if time.time() - event.get("at", time.time()) > settings.WS_MAX_LAG_SECONDS:
            await self.delivery.pause_all()  # frames reach us long after they were sent
        kind = event["kind"]
        room_id = event.get("room")
        text = event["text"]
        if event.get("localize"):  # coded texts (a system message): in this socket's language
            text = localized_text(kind, text, self.language)
        if kind == broadcast.SESSION_END:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if kind == "member.joined" and event.get("subject") == self.user_id:
            if room_id in self.delivery:
                return  # another copy of our own join
            await self._room_joined(room_id)
        elif room_id is not None and not self.delivery.live(room_id):
            return  # a room we left (frames queued before we left), or one waiting for resume
        elif kind == "member.left" and event.get("subject") == self.user_id:
            await self._room_left(room_id)
        elif kind == "room.deleted":
            await self._room_left(room_id)
        elif kind == "typing" and event.get("sender") == self.user_id:
            return  # never back to the typist, on any of their sockets
        elif kind == "message.new":
            await self.delivery.message_new(room_id, text, event["cursor"], event.get("prev"))
            return
        await self.send(text_data=text)

    async def _room_joined(self, room_id: str) -> None:
        await broadcast.join(self.channel_name, [broadcast.room_group(room_id)])
        heads = await db(self.room_source.heads)([room_id])
        self.delivery.joined(room_id, next(iter(heads.values()), None))
        await db(presence.room_membership_changed)(self.user.id, room_id, member=True)

    async def _room_left(self, room_id: str) -> None:
        self.delivery.left(room_id)
        await self.typing.stop(room_id)
        await broadcast.leave(self.channel_name, [broadcast.room_group(room_id)])
        await db(presence.room_membership_changed)(self.user.id, room_id, member=False)

    async def rooms_start(self, event: dict) -> None:
        """No resume came within RESUME_GRACE_SECONDS of ready."""
        await self.delivery.start()

    async def gap_fill(self, event: dict) -> None:
        await self.delivery.gap_fill(event["room"])

    async def heads_check(self, event: dict) -> None:
        await self.delivery.check_heads()

    async def realtime_behind(self, event: dict) -> None:
        """The channel layer could not deliver every group message to this
        socket (its queue overflowed, or the Redis subscription was lost):
        catch every room up from the database now, with no gap."""
        logger.info("socket %s fell behind the channel layer; catching up from the database", self.channel_name)
        if self.user is None:
            return
        # The lost events may have been a revoke or a kick: read them from
        # the database too, before the rooms catch up.
        if not await db(registry.logins().login_alive)(**self.login_ref):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        member_of = {str(r) for r in await db(self.room_source.member_room_ids)(user=self.user)}
        for room_id in [r for r in self.delivery.room_ids() if r not in member_of]:
            await self._room_left(room_id)
        await self.delivery.catch_up_all()

    async def _self_send(self, event: dict) -> None:
        """Queue work for the dispatch loop, through our own channel, so it
        runs in order with the events."""
        await self.channel_layer.send(self.channel_name, event)

    async def _wake(self, room_id: str) -> None:
        await self._self_send({"type": "gap.fill", "room": room_id})

    async def _messages_after(self, room_id: str, cursor: str | None, limit: int):
        return await db(in_language(self.language, self.room_source.messages_after))(
            user=self.user, room_id=room_id, cursor=cursor, limit=limit)

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)
