"""Keyset history: stable order, no gaps or duplicates while messages keep
arriving, around a message, and pages that touch one or two partitions."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatroom import cursors, selectors, services
from chatroom.models import Message
from core import partitions
from core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def _ensure_months(back: int) -> None:
    config = partitions.config_for("chatroom.Message")
    existing = {p.start for p in partitions.partitions(config) if p.start}
    start = partitions.month_start(timezone.now())
    for i in range(1, back + 1):
        month = partitions.add_months(start, -i)
        if month not in existing:
            partitions.create_month(config, month)


def _seed(room, user, count: int, span_days: int = 75) -> list[Message]:
    """``count`` messages spread over ``span_days`` back (several months), with
    runs of identical timestamps so the id tiebreak matters."""
    now = timezone.now() - timedelta(minutes=1)
    rows = []
    for i in range(count):
        at = now - timedelta(seconds=(count - i) // 3 * (span_days * 86400 // count * 3))
        rows.append(Message(id=uuid.uuid4(), room=room, user=user, content=f"seed {i}", created_at=at))
    Message.objects.bulk_create(rows, batch_size=500)
    return sorted(rows, key=lambda m: (m.created_at, m.id))


def test_paging_back_over_1000_messages_has_no_gaps_or_duplicates_while_new_ones_arrive(make_room, member_of):
    _ensure_months(3)
    room = make_room()
    reader = member_of(room)
    seeded = _seed(room, room.owner, 1000)
    # What existed when paging started (the join message is a system message).
    expected = [str(m.id) for m in Message.objects.filter(room=room).order_by("created_at", "id")]

    page = selectors.room_messages(user=reader, room=room, limit=37)
    seen = [m.id for m in page.messages]
    while page.prev:
        services.message_post(actor=room.owner, room=room, content="arrives while paging")
        page = selectors.room_messages(user=reader, room=room, before=page.prev, limit=37)
        seen = [m.id for m in page.messages] + seen
    assert [str(i) for i in seen] == expected
    assert len(set(seen)) == len(seen) == 1001
    assert len(seeded) == 1000


def test_paging_forward_sees_every_message_once_including_new_ones(make_room, member_of):
    _ensure_months(3)
    room = make_room()
    reader = member_of(room)
    seeded = _seed(room, room.owner, 300)
    oldest = seeded[0]
    seen = [oldest.id]
    posted = []
    cursor = cursors.encode(oldest.created_at, oldest.id)
    while cursor:
        page = selectors.room_messages(user=reader, room=room, after=cursor, limit=50)
        seen += [m.id for m in page.messages]
        if len(posted) < 5:
            posted.append(services.message_post(actor=room.owner, room=room, content="new").id)
        cursor = page.next
    everything = list(Message.objects.filter(room=room).order_by("created_at", "id").values_list("id", flat=True))
    assert seen == everything
    assert set(posted) <= set(seen)


def test_around_centres_on_the_message_with_cursors_both_ways(make_room):
    room = make_room()
    msgs = [services.message_post(actor=room.owner, room=room, content=f"m{i}") for i in range(30)]
    page = selectors.room_messages(user=room.owner, room=room, around=str(msgs[15].id), limit=10)
    ids = [m.id for m in page.messages]
    assert ids == [m.id for m in msgs[10:20]]
    assert page.prev and page.next
    body = page.as_dict()
    assert [m["content"] for m in body["results"]][5] == "m15"
    # The newest page has no "next"; the oldest has no "prev".
    newest = selectors.room_messages(user=room.owner, room=room, limit=10)
    assert newest.next is None and newest.messages[-1].id == msgs[-1].id


def test_bad_paging_input_is_refused(make_room):
    room = make_room()
    with pytest.raises(ValidationFailed):
        selectors.room_messages(user=room.owner, room=room, before="not-a-cursor")
    with pytest.raises(ValidationFailed):
        selectors.room_messages(user=room.owner, room=room, limit=1000)
    with pytest.raises(ValidationFailed):
        selectors.room_messages(user=room.owner, room=room, before="x", after="y")


def _partitions_scanned(sql: str, params) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    names = set()

    def walk(node):
        if node.get("Relation Name", "").startswith("messages"):
            names.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return names


def test_a_history_page_touches_at_most_two_partitions(make_room):
    _ensure_months(6)
    room = make_room()
    seeded = _seed(room, room.owner, 600, span_days=170)
    middle = seeded[300]
    with CaptureQueriesContext(connection) as ctx:
        page = selectors.room_messages(user=room.owner, room=room, before=middle.cursor, limit=50)
    assert len(page.messages) == 50
    message_queries = [q["sql"] for q in ctx.captured_queries if 'FROM "messages"' in q["sql"] and "ORDER BY" in q["sql"]]
    assert len(message_queries) == 1, "a full page comes from one query"
    # Re-run the same query under EXPLAIN: only the months of its window.
    qs = selectors._visible(room, selectors.member_of(room, room.owner))
    at, mid = middle.created_at, middle.id
    base = qs.filter(created_at__lte=at, created_at__gte=at - selectors.WINDOW).order_by("-created_at", "-id")[:51]
    sql, params = base.query.sql_with_params()
    scanned = _partitions_scanned(sql, params)
    assert 1 <= len(scanned) <= 2, scanned
    assert "messages_default" not in scanned


def test_messages_join_the_shared_partition_maintenance_and_keep_forever(settings):
    config = partitions.config_for("messages")
    assert config.retention_months is None
    _ensure_months(30)  # months far past any retention
    steps = partitions.plan_table(config)
    assert not [s for s in steps if s.action in ("retire", "finish-retire")]
    # The maintenance keeps the months ahead created for messages too.
    names = {p.name for p in partitions.partitions(config)}
    ahead = partitions.add_months(partitions.month_start(timezone.now()), settings.PARTITION_MONTHS_AHEAD)
    assert config.month_partition(ahead) in names or any(s.partition == config.month_partition(ahead) for s in steps)
