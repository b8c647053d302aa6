"""One socket's delivery of its rooms' messages: in order, without loss and
without duplicates. A plain class: the socket (realtime.consumers) gives it
the live ``message.new`` events and its timers' wake-ups, and it reads the
database only through the callables it is given, so it is tested without
Channels (tests/realtime/test_delivery.py).

The socket remembers, per room, the cursor of the last message it delivered.
Every ``message.new`` event carries the cursor of the room's previous message
(realtime.broadcast): when that is not the one delivered last, a message is
missing. Usually it is only late (two commits in a row whose broadcasts
overtook each other), so the newer one is held for GAP_WAIT_SECONDS and sent
as soon as its predecessor comes; after that the gap is fetched from the
database, in order. A message at or before the remembered cursor is a
duplicate and is dropped. So is anything for a room the socket has left. A
periodic heads check against the rooms' newest messages catches a missing
*last* message, which no later event would reveal, and the channel layer's
``realtime.behind`` (the socket may have missed group messages) fetches
every room's gap at once. A client that fell too far behind is told to
``resume`` instead of being flooded.

After ``ready`` each room waits (``starting``) for the client's ``resume``
with its last cursor, or for ``start()`` when none comes: either way its
first messages come from the database, then live ones, so a resume never
repeats or skips one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, ValidationFailed, parse_uuid
from realtime import signals
from realtime.languages import interpolate

PAGE = 200  # messages per database read while catching up
CATCH_UP_MAX = 2000  # beyond this many missed messages, the client resumes by itself
GAP_WAIT_SECONDS = 1.5  # how long an out-of-order message waits for its predecessor
HELD_MAX = 100
# A room's newest message younger than this is probably still on its way as
# an event: the heads check leaves it to that.
HEADS_GRACE_SECONDS = 10.0
RESUME_ROOMS_MAX = 1000
CURSOR_MAX_LENGTH = 200


def parse_resume(frame: dict, *, key: Callable[[str], tuple]) -> dict[str, str | None]:
    """``resume``'s ``rooms: {room_id: cursor}`` (a null cursor means from the
    room's first message), validated: room ids in their canonical form,
    cursors that ``key`` accepts; else ValidationFailed."""
    rooms = frame.get("rooms")
    if not isinstance(rooms, dict) or len(rooms) > RESUME_ROOMS_MAX:
        raise ValidationFailed(fields={"rooms": [_("An object of room id -> last cursor.")]})
    out = {}
    for room_id, cursor in rooms.items():
        room_id = str(parse_uuid(room_id if len(room_id) <= 64 else None, "rooms"))
        if cursor is not None and (not isinstance(cursor, str) or len(cursor) > CURSOR_MAX_LENGTH):
            raise ValidationFailed(fields={"rooms": [interpolate(_("The cursor for %(room_id)s is not a cursor."),
                    {"room_id": room_id})]})
        if cursor is not None:
            try:
                key(cursor)
            except ValidationFailed:
                raise ValidationFailed(fields={"rooms": [_("Not a valid cursor.")]}) from None
        out[room_id] = cursor
    return out


class Delivery:
    """The delivery state of one socket.

    - ``key(cursor)``: a cursor's sort key, a tuple whose first item is the
      message's time (an aware datetime);
    - ``fetch(room_id, cursor, limit)``: awaits (messages after ``cursor``,
      oldest first, each a dict with its ``cursor``; whether more follow),
      raising an ApplicationError when the user may no longer read the room;
    - ``heads(room_ids)``: awaits {room id: its newest cursor or None};
    - ``send(text)``: awaits sending a frame (JSON text) to the client;
    - ``send_error(code, message, ref)``: awaits sending an ``error`` frame;
    - ``wake(room_id)``: awaited GAP_WAIT_SECONDS after a room began holding
      a message; it must lead to ``gap_fill(room_id)`` (the socket queues it
      behind the events it is handling, so it runs in order with them);
    - ``spawn(coroutine)``: starts a timer task (the socket's own, whose
      faults it handles)."""

    def __init__(self, *, key: Callable[[str], tuple],
                 fetch: Callable[[str, str | None, int], Awaitable[tuple[list[dict], bool]]],
                 heads: Callable[[list[str]], Awaitable[dict]],
                 send: Callable[[str], Awaitable[None]],
                 send_error: Callable[[str, str, str], Awaitable[None]],
                 wake: Callable[[str], Awaitable[None]],
                 spawn: Callable[..., asyncio.Task] = asyncio.create_task):
        self.key, self.fetch, self.heads = key, fetch, heads
        self.send, self.send_error, self.wake, self.spawn = send, send_error, wake, spawn
        self.rooms: dict[str, str | None] = {}  # room id -> cursor of the last message delivered
        self.behind: set[str] = set()  # rooms waiting for the client's resume
        # Rooms whose live messages wait for the client's first resume (or
        # start()) after ready, so a resume never repeats one.
        self.starting: set[str] = set()
        # room id -> the cursor this socket started delivering after: every
        # message after it, up to self.rooms[room], has been sent.
        self.sent_from: dict[str, str | None] = {}
        self.held: dict[str, dict] = {}  # room id -> {previous cursor: (cursor, text)} waiting for a late one
        self.gap_timers: dict[str, asyncio.Task] = {}

    # ------------------------------------------------------------------ rooms

    def __contains__(self, room_id) -> bool:
        return room_id in self.rooms

    def room_ids(self) -> list[str]:
        return list(self.rooms)

    def live(self, room_id) -> bool:
        """Whether the room's frames go to the client now (not one the
        socket left, nor one paused until the client resumes)."""
        return room_id in self.rooms and room_id not in self.behind

    def ready(self, rooms: dict[str, str | None]) -> None:
        """The rooms ``ready`` listed, each with its newest cursor then."""
        self.rooms = dict(rooms)
        self.starting = set(self.rooms)

    def joined(self, room_id: str, head: str | None) -> None:
        """A room joined while connected: live from its newest message."""
        self.rooms[room_id] = self.sent_from[room_id] = head

    def left(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)
        self.behind.discard(room_id)
        self.starting.discard(room_id)
        self._drop_held(room_id)

    def close(self) -> None:
        for room_id in list(self.gap_timers):
            self._drop_held(room_id)

    # ------------------------------------------------------------------ starting and resuming

    async def start(self) -> None:
        """No resume came for the rooms still starting: deliver from the
        newest message at ready (what arrived since, from the database),
        then live."""
        for room_id in list(self.starting):
            self.starting.discard(room_id)
            self.sent_from[room_id] = self.rooms.get(room_id)
            if room_id in self.rooms:
                await self._catch_up(room_id)

    async def resume(self, rooms: dict[str, str | None]) -> None:
        """The client's last cursors (parse_resume): every message after each
        from the database, then live ones, with no gap and no duplicate."""
        for room_id, cursor in rooms.items():
            if room_id not in self.rooms:
                await self.send_error("permission_denied", _("You are not a member of this room."), room_id)
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

    async def _resend_before(self, room_id: str, cursor: str | None) -> None:
        """A resume after live delivery began: send what the client missed
        before this socket's first delivery; what came after, it has."""
        upto = self.sent_from.get(room_id)
        if upto is None or (cursor is not None and self.key(cursor) >= self.key(upto)):
            return
        after = cursor
        while True:
            messages, more = await self.fetch(room_id, after, PAGE)
            for message in messages:
                if self.key(message["cursor"]) > self.key(upto):
                    return
                await self._send_message(message)
                after = message["cursor"]
            if not more:
                return

    # ------------------------------------------------------------------ live messages

    async def message_new(self, room_id: str, text: str, cursor: str, prev: str | None) -> None:
        """A live ``message.new`` (its frame as ``text``) and its
        predecessor's cursor ``prev``."""
        if not self.live(room_id) or room_id in self.starting:
            return  # left, paused, or sent from the database when the room starts
        last = self.rooms[room_id]
        if last is not None and self.key(cursor) <= self.key(last):
            return  # delivered already (by a catch-up, or a second copy)
        if prev == last or (prev is not None and last is not None and self.key(prev) < self.key(last)):
            await self._send_new(room_id, text, cursor)
            await self._release_held(room_id)
            return
        # Out of order: its predecessor is missing. Hold it for
        # GAP_WAIT_SECONDS, then fetch the gap from the database.
        held = self.held.setdefault(room_id, {})
        held[prev] = (cursor, text)
        if len(held) > HELD_MAX:
            await self._catch_up(room_id)
        elif room_id not in self.gap_timers:
            self.gap_timers[room_id] = self.spawn(self._gap_timer(room_id))

    async def _send_new(self, room_id: str, text: str, cursor: str) -> None:
        self.rooms[room_id] = cursor
        await self.send(text)
        signals.message_delivered.send(sender=Delivery, cursor=cursor)

    async def _send_message(self, message: dict) -> None:
        await self.send(json.dumps({"type": "message.new", "message": message}, default=str))
        signals.frame_sent.send(sender=Delivery, frame_type="message.new")

    async def _release_held(self, room_id: str) -> None:
        """Send held messages that now follow in order."""
        held = self.held.get(room_id)
        while held and self.rooms[room_id] in held:
            cursor, text = held.pop(self.rooms[room_id])
            await self._send_new(room_id, text, cursor)
        if held:
            last = self.key(self.rooms[room_id])
            for prev in [p for p, (c, _) in held.items() if self.key(c) <= last]:
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
        await self.wake(room_id)

    async def gap_fill(self, room_id: str) -> None:
        """A held message's predecessor did not come in time: fetch the gap."""
        self.gap_timers.pop(room_id, None)
        if self.held.get(room_id) and self.live(room_id):
            await self._catch_up(room_id)

    # ------------------------------------------------------------------ falling behind, catching up

    async def pause_all(self) -> None:
        """The client reads slower than its rooms talk. Rather than relay a
        stale backlog (or skip it), every room pauses and the client is told
        to resume from its cursors; the backlog is then dropped unread."""
        for room_id in self.rooms:
            if room_id not in self.behind:
                await self._ask_resume(room_id)

    async def _ask_resume(self, room_id: str) -> None:
        """Pause a room's live messages until the client sends resume."""
        self.behind.add(room_id)
        self._drop_held(room_id)
        await self.send_error("resume_required", _("Too far behind; send resume with your last cursor."), room_id)

    def _delivering(self) -> list[str]:
        """The rooms delivering live messages now (not paused, not starting)."""
        return [r for r in self.rooms if r not in self.behind and r not in self.starting]

    async def catch_up_all(self) -> None:
        """Live messages may have been lost on the way (the channel layer's
        ``realtime.behind``: a queue overflowed, or its Redis subscription
        was lost): every delivering room sends what followed its cursor from
        the database now, instead of waiting for a later message to reveal
        the gap, or for the heads check. Paused and starting rooms read the
        database anyway when they go on."""
        for room_id in self._delivering():
            if self.live(room_id):
                await self._catch_up(room_id)

    async def _catch_up(self, room_id: str) -> None:
        """Send every message after the room's remembered cursor, from the
        database, in order. Past CATCH_UP_MAX the client is told to resume
        (its own history reads are paged) and the room pauses until it does."""
        self._drop_held(room_id)  # the database has them all
        sent = 0
        while True:
            try:
                messages, more = await self.fetch(room_id, self.rooms[room_id], PAGE)
            except ApplicationError:  # no longer a member: the member.left event is on its way
                return
            for message in messages:
                await self._send_message(message)
                self.rooms[room_id] = message["cursor"]
            sent += len(messages)
            if not more:
                return
            if sent >= CATCH_UP_MAX:
                await self._ask_resume(room_id)
                return

    async def check_heads(self) -> None:
        """Compare the rooms' newest messages with the last delivered: a
        missing *last* message is revealed by no later event."""
        rooms = self._delivering()
        if not rooms:
            return
        heads = await self.heads(rooms)
        settled = datetime.now(timezone.utc) - timedelta(seconds=HEADS_GRACE_SECONDS)
        for room_id, head in heads.items():
            room_id = str(room_id)
            last = self.rooms.get(room_id)
            if head is None or self.key(head)[0] > settled:
                continue
            if room_id in self.rooms and (last is None or self.key(head) > self.key(last)):
                await self._catch_up(room_id)
                # The head may be a removed message this user does not see;
                # everything up to it has been sent either way.
                last = self.rooms.get(room_id)
                if self.live(room_id) and (last is None or self.key(head) > self.key(last)):
                    self.rooms[room_id] = head
