"""Arranging a known day: rows inserted with the timestamps that day needs
(the services stamp "now", which a test of a past day cannot use)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from accounts.models import OnlineTimeStat, User
from chatroom.models import Attachment, Message, Room
from jobs.models import Job
from tests.audit.conftest import audit_dirs  # noqa: F401  (partition archives in the test's tmp dir)
from tests.orgs.conftest import make_membership, world  # noqa: F401

DAY = date(2026, 11, 10)


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


def backdate(obj, moment: datetime, field: str = "created_at") -> None:
    type(obj).objects.filter(pk=obj.pk).update(**{field: moment})


def message(room: Room, user: User, moment: datetime) -> Message:
    return Message.objects.create(room=room, user=user, content="hello", created_at=moment)


def attachment(user: User, room: Room | None, size: int, moment: datetime) -> Attachment:
    item = Attachment.objects.create(uploader=user, file="chat/x.bin", filename="x.bin", mime_type="application/x",
                                     size=size, checksum="0" * 64, room=room)
    backdate(item, moment)
    return item


def job(user: User, *, status: str, moved: int, finished: datetime) -> Job:
    item = Job.objects.create(user=user, type="copy", payload={"source": {}})
    Job.objects.filter(pk=item.pk).update(status=status, result={"bytes": moved}, created_at=finished - timedelta(minutes=2),
                                          started_at=finished - timedelta(minutes=1), completed_at=finished)
    return item


@pytest.fixture
def known_day(make_user):
    """DAY with known counts (and the day before, to tell totals from new):

    - users: a, b made the day before; c made on DAY; d made the day after
    - rooms: r1 the day before, r2 on DAY
    - messages: 1 the day before (a); on DAY 2 by a, 1 by c
    - attachments: 100 bytes the day before, 250 on DAY (by b)
    - b: online 600 s on DAY (a socket session), a completed job of 5000
      bytes and a failed one of 0 on DAY
    """
    from chatroom.services.rooms import room_create

    before, after = DAY - timedelta(days=1), DAY + timedelta(days=1)
    a, b, c, d = (make_user(name) for name in ("alice", "bob", "carol", "dave"))
    for user, day in ((a, before), (b, before), (c, DAY), (d, after)):
        backdate(user, at(day, 9))
    r1, r2 = room_create(owner=a, name="room-one"), room_create(owner=a, name="room-two")
    backdate(r1, at(before, 10))
    backdate(r2, at(DAY, 10))
    message(r1, a, at(before, 11))
    message(r1, a, at(DAY, 11))
    message(r2, a, at(DAY, 12))
    message(r2, c, at(DAY, 13))
    attachment(b, r1, 100, at(before, 12))
    attachment(b, r1, 250, at(DAY, 12))
    OnlineTimeStat.objects.create(user=b, date=DAY, total_seconds=600, sessions_count=1)
    job(b, status="completed", moved=5000, finished=at(DAY, 15))
    job(b, status="failed", moved=0, finished=at(DAY, 16))
    # Nobody is "active" from logging in today in this arrangement.
    User.objects.update(last_active_at=None)
    return {"a": a, "b": b, "c": c, "d": d, "r1": r1, "r2": r2}
