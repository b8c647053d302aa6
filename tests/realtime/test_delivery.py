"""The delivery protocol (realtime.delivery.Delivery) on its own: no socket,
no channel layer, no database. Cursors are ``c<n>`` (the n-th message), the
"database" is a list per room, and the frames the client would get are
collected in order."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import PermissionDenied, ValidationFailed
from realtime import delivery as delivery_module
from realtime.delivery import Delivery, parse_resume

ROOM = "8d9a4a8e-3f3c-4c55-9d0a-1f0b8a6f2a11"
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


def key(cursor: str) -> tuple:
    if not (isinstance(cursor, str) and cursor.startswith("c") and cursor[1:].isdigit()):
        raise ValidationFailed(fields={"cursor": ["Not a valid cursor."]})
    n = int(cursor[1:])
    return EPOCH + timedelta(seconds=n), n


def c(n: int) -> str:
    return f"c{n}"


class Socket:
    """What a Delivery is given: the room's messages as the database holds
    them, and the client's side of the socket."""

    def __init__(self, stored: int = 0, *, members=(ROOM,)):
        self.stored = {room: [c(n) for n in range(1, stored + 1)] for room in members}
        self.members = set(members)
        self.sent: list[dict] = []
        self.fetches = 0
        self.woken: list[str] = []
        self.delivery = Delivery(key=key, fetch=self.fetch, heads=self.heads, send=self.send,
                                 send_error=self.send_error, wake=self.wake)

    def store(self, n: int, room: str = ROOM) -> str:
        self.stored[room].append(c(n))
        return c(n)

    async def fetch(self, room_id, cursor, limit):
        self.fetches += 1
        if room_id not in self.members:
            raise PermissionDenied("You are not a member of this room.")
        after = key(cursor) if cursor else (EPOCH, 0)
        rows = [m for m in self.stored[room_id] if key(m) > after]
        return [{"room_id": room_id, "cursor": m} for m in rows[:limit]], len(rows) > limit

    async def heads(self, room_ids):
        return {r: (self.stored[r][-1] if self.stored[r] else None) for r in room_ids}

    async def send(self, text):
        self.sent.append(json.loads(text))

    async def send_error(self, code, message, ref):
        self.sent.append({"type": "error", "code": code, "ref": ref})

    async def wake(self, room_id):
        self.woken.append(room_id)
        await self.delivery.gap_fill(room_id)

    async def live(self, n: int, prev: int | None, room: str = ROOM) -> None:
        """A message.new event, as realtime.broadcast sends it."""
        text = json.dumps({"type": "message.new", "message": {"room_id": room, "cursor": c(n)}})
        await self.delivery.message_new(room, text, c(n), c(prev) if prev else None)

    def cursors(self) -> list:
        return [f["message"]["cursor"] if f["type"] == "message.new" else f["code"] for f in self.sent]


async def started(stored: int = 1) -> Socket:
    """A socket past ready (the newest message then: c<stored>) whose client
    sent no resume."""
    s = Socket(stored)
    s.delivery.ready({ROOM: c(stored) if stored else None})
    await s.delivery.start()
    return s


@pytest.fixture(autouse=True)
def quick_gap_wait(monkeypatch):
    monkeypatch.setattr(delivery_module, "GAP_WAIT_SECONDS", 0.05)


async def test_messages_in_order_are_relayed():
    s = await started(1)
    await s.live(2, 1)
    await s.live(3, 2)
    assert s.cursors() == ["c2", "c3"]
    assert s.fetches == 1  # the start's catch-up only


async def test_an_out_of_order_message_is_held_until_its_predecessor_comes():
    s = await started(1)
    await s.live(3, 2)
    assert s.cursors() == []
    await s.live(2, 1)
    assert s.cursors() == ["c2", "c3"]
    await asyncio.sleep(0.1)
    assert s.woken == [] and s.fetches == 1  # released in time: no database read, no timer left
    assert s.delivery.gap_timers == {} and s.delivery.held == {}


async def test_duplicates_are_dropped():
    s = await started(1)
    await s.live(2, 1)
    await s.live(2, 1)  # a second copy
    await s.live(1, None)  # at the cursor ready started from
    assert s.cursors() == ["c2"]


async def test_a_missing_predecessor_is_fetched_from_the_database_in_order():
    s = await started(1)
    s.store(2)  # committed, but its event was lost
    s.store(3)
    await s.live(3, 2)
    assert s.cursors() == []
    await asyncio.sleep(0.2)
    assert s.woken == [ROOM]
    assert s.cursors() == ["c2", "c3"]
    await s.live(3, 2)  # late copy: a duplicate now
    await s.live(4, 3)
    assert s.cursors() == ["c2", "c3", "c4"]


async def test_too_many_held_messages_catch_up_at_once(monkeypatch):
    monkeypatch.setattr(delivery_module, "HELD_MAX", 2)
    s = await started(1)
    for n in range(2, 6):
        s.store(n)
    for n in (3, 4, 5):  # c2's event never comes
        await s.live(n, n - 1)
    assert s.cursors() == ["c2", "c3", "c4", "c5"]
    assert s.woken == []


async def test_resume_sends_what_the_client_missed_then_live_without_gap_or_duplicate():
    s = Socket(3)
    s.delivery.ready({ROOM: c(3)})
    await s.live(4, 3)  # before the client's resume: held back (the room is starting)
    s.store(4)
    await s.delivery.resume({ROOM: c(1)})
    await s.live(4, 3)  # another copy
    await s.live(5, 4)
    assert s.cursors() == ["c2", "c3", "c4", "c5"]


async def test_a_resume_after_live_delivery_began_fills_in_only_what_came_before():
    s = await started(3)
    await s.live(4, 3)
    await s.delivery.resume({ROOM: c(1)})  # a client whose resume came late
    await s.delivery.resume({ROOM: c(4)})  # or one that has everything
    assert s.cursors() == ["c4", "c2", "c3"]


async def test_resume_of_a_room_the_socket_is_not_in_is_refused():
    s = await started(1)
    await s.delivery.resume({"other": None})
    assert s.sent == [{"type": "error", "code": "permission_denied", "ref": "other"}]


async def test_behind_catches_up_every_room_at_once():
    """The channel layer's realtime.behind: events were lost, and no later
    one has revealed it yet."""
    s = await started(1)
    await s.live(2, 1)
    s.store(2)
    s.store(3)
    s.store(4)
    await s.delivery.catch_up_all()
    assert s.cursors() == ["c2", "c3", "c4"]
    await s.live(4, 3)  # its event after all
    await s.live(5, 4)
    assert s.cursors() == ["c2", "c3", "c4", "c5"]


async def test_behind_leaves_rooms_waiting_for_resume_to_the_resume():
    s = Socket(2)
    s.delivery.ready({ROOM: c(2)})
    await s.delivery.catch_up_all()
    assert s.sent == [] and s.fetches == 0
    await s.delivery.resume({ROOM: c(1)})
    assert s.cursors() == ["c2"]


async def test_a_client_too_far_behind_is_told_to_resume(monkeypatch):
    monkeypatch.setattr(delivery_module, "CATCH_UP_MAX", 4)
    monkeypatch.setattr(delivery_module, "PAGE", 2)
    s = Socket(10)
    s.delivery.ready({ROOM: c(10)})
    await s.delivery.resume({ROOM: None})
    assert s.cursors() == ["c1", "c2", "c3", "c4", "resume_required"]
    await s.live(11, 10)  # paused until the client resumes
    assert not s.delivery.live(ROOM) and len(s.sent) == 5


async def test_the_heads_check_finds_a_lost_last_message():
    s = await started(1)
    s.store(2)  # its event was lost, and nothing follows it
    await s.delivery.check_heads()
    assert s.cursors() == ["c2"]


async def test_a_room_left_gets_nothing_more():
    s = await started(1)
    await s.live(3, 2)  # held
    s.delivery.left(ROOM)
    await s.live(4, 3)
    await asyncio.sleep(0.1)
    assert s.sent == [] and s.woken == []


async def test_a_catch_up_for_a_room_no_longer_readable_stops_quietly():
    s = await started(1)
    s.members.clear()  # removed; the member.left event is on its way
    await s.delivery.catch_up_all()
    assert s.sent == []


def test_resume_frames_are_validated():
    assert parse_resume({"rooms": {ROOM.upper(): "c3"}}, key=key) == {ROOM: "c3"}
    assert parse_resume({"rooms": {ROOM: None}}, key=key) == {ROOM: None}
    for rooms in (None, [], {"not-a-uuid": None}, {ROOM: 5}, {ROOM: "x" * 201}, {ROOM: "garbage"}):
        with pytest.raises(ValidationFailed) as refused:
            parse_resume({"rooms": rooms}, key=key)
        assert list(refused.value.fields) == ["rooms"]
