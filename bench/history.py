"""Chat history benchmark: keyset pages on the monthly-partitioned messages.

    .venv/bin/python bench/history.py [--sizes 1000000,10000000] [--samples 300] [--rooms 100]

For each size, a scratch database (on DATABASE_URL's server, or the embedded
PostgreSQL) is created, migrated, given 24 monthly partitions and loaded with
that many messages spread over 24 months with COPY; then dropped. Prints:

- history page latency (p50, p99) through ``chatroom.selectors.room_messages``
  for the newest page and a page 6 months back, next to a plain indexed SQL
  keyset query for the same page (one unpartitioned-style query on
  ``messages`` without the partition window), timed interleaved in the same run;
- the full API page (the rows plus reactions, attachments, mentions, replies);
- search latency (an English word, and a Chinese substring);
- EXPLAIN evidence: which partitions the page queries scan.

- threads (issue 16): 5% of the loaded messages are thread replies (not sent
  to the room, so the room's page and the plain query skip them); the newest
  page of a 500-reply thread; GET /unread for a user in 200 rooms and 50 DMs
  who follows 100 threads, cached or not.

Targets: a page within 2x the plain query; at most 1.5x slower at the largest
size than at the smallest; a 500-reply thread's newest page and the unread
query with threads under 20 ms p50.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, pg_connect, scratch_database  # noqa: E402

MONTHS = 24
COMMON = ("budget deploy review meeting release customer report design schedule invoice server backup "
          "database question answer lunch coffee weekend project roadmap incident fix test").split()
# A vocabulary with a long tail: common words plus 5,000 made-up ones drawn
# with a Zipf-like skew, so a searched word is as selective as in real chat.
_vocab_rng = random.Random(7)
RARE = ["".join(_vocab_rng.choice("bcdfghjklmnprstvz") + _vocab_rng.choice("aeiou") for _ in range(3)) for _ in range(5000)]
CJK = ["我们明天讨论预算", "会议改到下午三点", "내일 회의에서 예산을 논의합니다", "서버 점검 일정", "请查看报告"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated message counts")
    parser.add_argument("--samples", type=int, default=300, help="timed pages per measurement")
    parser.add_argument("--rooms", type=int, default=200, help="rooms the messages are spread over")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--measure-only", metavar="DATABASE",
                        help="skip loading: measure again on a scratch database kept by --keep")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING")

    if args.measure_only:
        _, url = scratch_database(f"teamhub_bench_history_0_{os.getpid()}")
        url = urlunparse(urlparse(url)._replace(path=f"/{args.measure_only}"))
        configure_django(url)
        from django.db import connection

        from accounts.models import User
        from chatroom.models import Room

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM messages")
            size = cursor.fetchone()[0]
        print(f"######## {size:,} messages: measuring again on {args.measure_only}", flush=True)
        measure(connection, User.objects.get(username="bench-reader"), Room.objects.get(name="bench-room-0"), size, args)
        measure_unread(connection, User.objects.get(username="bench-busy"), args)
        measure_threads(connection, User.objects.get(username="bench-busy"), Room.objects.get(name="bench-room-0"),
                        args)
        return 0

    summary = {}
    for size in sizes:
        admin_url, scratch_url = scratch_database(f"teamhub_bench_history_{size}_{os.getpid()}")
        name = urlparse(scratch_url).path.lstrip("/")
        with pg_connect(admin_url) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            summary[size] = run_size(scratch_url, name, size, args)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep:
                with pg_connect(admin_url) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    if len(summary) > 1:
        small, large = min(summary), max(summary)
        print(f"\n== scaling {small:,} -> {large:,} messages (p50, target <= 1.5x) ==")
        for key in summary[small]:
            a, b = summary[small][key], summary[large][key]
            print(f"  {key:<34} {a:8.3f} ms -> {b:8.3f} ms   {b / a:5.2f}x")
    return 0


def configure_django(url: str) -> None:
    """Point Django at the scratch database (settings read DATABASE_URL once)."""
    import django
    from django.conf import settings

    os.environ["DATABASE_URL"] = url
    if not settings.configured or not hasattr(main, "_setup"):
        django.setup()
        main._setup = True
    from django.db import connections

    connections.close_all()
    # The process's connection pool was made for the previous size's
    # database (dropped since): a new one is made for this one.
    connections["default"].close_pool()
    settings.DATABASES["default"]["NAME"] = urlparse(url).path.lstrip("/")
    connections["default"].settings_dict["NAME"] = settings.DATABASES["default"]["NAME"]


def run_size(url: str, name: str, size: int, args) -> dict:
    configure_django(url)
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import user_create
    from chatroom.models import RoomMember
    from chatroom.services import room_create

    print(f"\n######## {size:,} messages: scratch database {name}", flush=True)
    call_command("migrate", verbosity=0)
    first_month, now = create_months()

    reader = user_create(username="bench-reader", email="reader@example.com", password=None)
    authors = [user_create(username=f"author{i}", email=f"a{i}@example.com", password=None) for i in range(10)]
    rooms = [room_create(owner=authors[i % 10], name=f"bench-room-{i}") for i in range(args.rooms)]
    # The reader is in 20 rooms, including the hot one the pages are read from;
    # a busy user is in every room (the unread counts).
    RoomMember.objects.bulk_create([RoomMember(room=r, user=reader) for r in rooms[:20]])
    busy = user_create(username="bench-busy", email="busy@example.com", password=None)
    RoomMember.objects.bulk_create([RoomMember(room=r, user=busy) for r in rooms])
    hot = rooms[0]

    load(connection, size, rooms, authors, first_month, now)
    results = measure(connection, reader, hot, size, args)
    results.update(measure_unread(connection, busy, args))
    results.update(measure_threads(connection, busy, hot, args))
    return results


def create_months() -> tuple[datetime, datetime]:
    """The messages' monthly partitions for the MONTHS the load spreads over;
    returns (the first month's start, now)."""
    from core import partitions

    config = partitions.config_for("chatroom.Message")
    now = datetime.now(timezone.utc)
    first_month = partitions.add_months(partitions.month_start(now), -(MONTHS - 1))
    have = {p.start for p in partitions.partitions(config) if p.start}
    for i in range(MONTHS):
        month = partitions.add_months(first_month, i)
        if month not in have:
            partitions.create_month(config, month)
    return first_month, now


def load(connection, size: int, rooms, authors, start: datetime, end: datetime) -> None:
    """COPY ``size`` messages over [start, end): the first room gets 10% of
    them (the room the pages are read from), the rest spread evenly. The
    search and page indexes are dropped for the load and rebuilt after,
    as one would for any bulk load."""
    rng = random.Random(42)
    span = (end - start).total_seconds()
    room_ids = [str(r.id) for r in rooms]
    user_ids = [str(u.id) for u in authors]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages' "
                       "AND indexname NOT IN ('messages_pkey')")
        indexes = cursor.fetchall()
        for index_name, _ in indexes:
            cursor.execute(f'DROP INDEX "{index_name}"')
    t0 = time.perf_counter()
    raw = connection.connection
    chunk = 200_000
    columns = ("(id, created_at, room_id, user_id, content, message_type, is_edited, is_deleted, is_pinned, metadata, "
               "updated_at, thread_id, thread_created_at)")
    # 5% of the messages are thread replies to a recent message of their room
    # (the room's previous root, kept per room), so the room's pages skip them.
    roots: dict = {}
    with raw.cursor() as cur:
        with cur.copy(f"COPY messages {columns} FROM STDIN") as copy:
            for offset in range(0, size, chunk):
                n = min(chunk, size - offset)
                # Times in order within the chunk: each chunk covers its slice of the 24 months.
                lo = offset / size * span
                hi = (offset + n) / size * span
                times = sorted(lo + rng.random() * (hi - lo) for _ in range(n))
                lines = []
                for t in times:
                    at = (start + timedelta(seconds=t)).isoformat()
                    room = room_ids[0] if rng.random() < 0.10 else room_ids[rng.randrange(1, len(room_ids))]
                    if rng.random() < 0.05:
                        content = rng.choice(CJK)
                    else:
                        n_words = rng.randrange(4, 14)
                        content = " ".join(rng.choice(COMMON) if rng.random() < 0.5 else RARE[int(rng.paretovariate(1.2)) % len(RARE)]
                                           for _ in range(n_words))
                    mid = uuid.uuid4()
                    thread = roots.get(room) if rng.random() < 0.05 else None
                    if thread is None:
                        roots[room] = (mid, at) if rng.random() < 0.2 else roots.get(room)
                        thread = ("\\N", "\\N")
                    lines.append(f"{mid}\t{at}\t{room}\t{rng.choice(user_ids)}\t{content}\ttext\tf\tf\tf\t{{}}\t{at}"
                                 f"\t{thread[0]}\t{thread[1]}\n")
                copy.write("".join(lines))
                print(f"  copied {offset + n:,}/{size:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
    loaded = time.perf_counter() - t0
    t1 = time.perf_counter()
    with connection.cursor() as cursor:
        for index_name, definition in indexes:
            cursor.execute(definition.replace(" ON ONLY ", " ON "))
        cursor.execute("ANALYZE messages")
    print(f"  COPY {size:,} rows in {loaded:.0f} s ({size / loaded:,.0f} rows/s); "
          f"indexes rebuilt and analyzed in {time.perf_counter() - t1:.0f} s", flush=True)


def measure(connection, reader, room, size: int, args) -> dict:
    from django.test.utils import CaptureQueriesContext

    from chatroom import cursors, selectors

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM messages WHERE room_id = %s", [room.id])
        room_rows = cursor.fetchone()[0]
        six_months = datetime.now(timezone.utc) - timedelta(days=182)
        cursor.execute("SELECT created_at, id FROM messages WHERE room_id = %s AND created_at <= %s "
                       "ORDER BY created_at DESC, id DESC LIMIT 1", [room.id, six_months])
        back_at, back_id = cursor.fetchone()
    back_cursor = cursors.encode(back_at, back_id)
    print(f"  the read room holds {room_rows:,} messages; 'six months back' starts before {back_at:%Y-%m-%d %H:%M}")

    # The same page as plain SQL: the room's own messages (thread replies only
    # when sent also to the room).
    plain_sql = ("SELECT m.* FROM messages m WHERE m.room_id = %s AND (m.created_at, m.id) < (%s, %s) "
                 "AND NOT m.is_deleted AND (m.thread_id IS NULL OR m.also_to_room) "
                 "ORDER BY m.created_at DESC, m.id DESC LIMIT 51")
    far_future = datetime.now(timezone.utc) + timedelta(minutes=5)

    def plain(at, mid):
        with connection.cursor() as cursor:
            cursor.execute(plain_sql, [room.id, at, mid])
            return cursor.fetchall()

    def page(before):
        return selectors.room_messages(user=reader, room=room, before=before, limit=50)

    cases = {
        "newest page": (None, (far_future, uuid.UUID(int=(1 << 128) - 1))),
        "page 6 months back": (back_cursor, (back_at, back_id)),
    }
    results = {}
    print(f"\n  history pages ({args.samples} each, interleaved; limit 50):")
    for label, (before, plain_key) in cases.items():
        for _ in range(20):  # warm caches and plans
            page(before)
            plain(*plain_key)
        sel_ms, plain_ms, full_ms = [], [], []
        for _ in range(args.samples):
            t = time.perf_counter()
            rows = page(before)
            sel_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            plain(*plain_key)
            plain_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            rows.as_dict()
            full_ms.append((time.perf_counter() - t) * 1000 + sel_ms[-1])
        assert len(rows.messages) == 50
        s50, s99 = statistics.median(sel_ms), percentile(sel_ms, 99)
        p50, p99 = statistics.median(plain_ms), percentile(plain_ms, 99)
        f50, f99 = statistics.median(full_ms), percentile(full_ms, 99)
        print(f"    {label}:")
        print(f"      selector page      p50 {s50:7.3f} ms   p99 {s99:7.3f} ms")
        print(f"      plain SQL keyset   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
        print(f"      ratio              p50 {s50 / p50:6.2f}x     p99 {s99 / p99:6.2f}x   (target <= 2x)")
        print(f"      full API body      p50 {f50:7.3f} ms   p99 {f99:7.3f} ms   (rows + reactions, files, mentions, replies)")
        results[f"{label} (selector)"] = s50
        results[f"{label} (plain SQL)"] = p50

        with CaptureQueriesContext(connection) as ctx:
            page(before)
        query = next(q["sql"] for q in ctx.captured_queries if 'FROM "messages"' in q["sql"] and "ORDER BY" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        scanned = sorted(_relations(plan[0]["Plan"]))
        print(f"      EXPLAIN: {len(scanned)} partition(s) scanned: {', '.join(scanned)}")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + plain_sql, [room.id, *plain_key])
            plain_plan = cursor.fetchone()[0]
        plain_plan = json.loads(plain_plan) if isinstance(plain_plan, str) else plain_plan
        print(f"      (the plain query, without the window, plans {len(_relations(plain_plan[0]['Plan']))} partitions)")

    print(f"\n  search ({max(args.samples // 5, 20)} each, the reader's 20 rooms):")
    for label, q in (("a common word 'invoice'", "invoice"), (f"a less common word '{RARE[20]}'", RARE[20]),
                     (f"a rare word '{RARE[300]}'", RARE[300]),
                     ("Chinese substring '预算'", "预算")):
        selectors.search_messages(user=reader, q=q)
        ms = []
        for _ in range(max(args.samples // 5, 20)):
            t = time.perf_counter()
            found = selectors.search_messages(user=reader, q=q, limit=20)
            ms.append((time.perf_counter() - t) * 1000)
        print(f"    {label:<28} p50 {statistics.median(ms):8.2f} ms   p99 {percentile(ms, 99):8.2f} ms   "
              f"({len(found['results'])} results on the first page)")
        results[f"search {q}"] = statistics.median(ms)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
        print(f"    (pg_trgm {'installed: substring search uses the trigram index' if cursor.fetchone()[0] else 'missing: substring search is a plain scan'})")
    return results


def measure_unread(connection, busy, args) -> dict:
    """GET /unread for a user in every room, read up to a week ago in each."""
    from django.conf import settings

    from chatroom.models import RoomMember
    from chatroom.selectors import unread_counts

    week_ago = datetime.now(timezone.utc) - timedelta(days=7)
    with connection.cursor() as cursor:
        # Each membership's read cursor: the room's last message a week ago.
        cursor.execute("""
            UPDATE room_members rm SET last_read_message_id = x.id, last_read_at = x.created_at
            FROM (SELECT DISTINCT ON (m.room_id) m.room_id, m.id, m.created_at FROM room_members r
                  JOIN LATERAL (SELECT room_id, id, created_at FROM messages WHERE room_id = r.room_id
                                AND created_at <= %s ORDER BY created_at DESC, id DESC LIMIT 1) m ON true
                  WHERE r.user_id = %s) x
            WHERE rm.room_id = x.room_id AND rm.user_id = %s""", [week_ago, busy.id, busy.id])
        rooms = cursor.rowcount
    from chatroom import unread

    room_ids = list(RoomMember.objects.filter(user=busy).values_list("room_id", flat=True))
    samples = max(args.samples // 10, 10)

    def timed(fn) -> list[float]:
        ms = []
        for _ in range(samples):
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1000)
        return ms

    uncached = timed(lambda: unread._count(busy, room_ids))
    counts = unread_counts(user=busy)  # fills the cache
    cached = timed(lambda: unread_counts(user=busy))
    hot = rooms_by_traffic(room_ids)

    def one_room_changed():
        unread._bump(hot)  # as a post in the busiest room does
        unread_counts(user=busy)

    partial = timed(one_room_changed)
    print(f"\n  unread counts for a user in {rooms} rooms, each read up to a week ago "
          f"({counts['total']:,} unread in all as the badges count them, each room's stopping at "
          f"UNREAD_COUNT_CAP = {settings.UNREAD_COUNT_CAP}):")
    for label, ms in (("counting query, uncached", uncached), ("GET /unread, cached", cached),
                      ("GET /unread, busiest room changed", partial)):
        print(f"    {label:<34} p50 {statistics.median(ms):8.2f} ms   p99 {percentile(ms, 99):8.2f} ms")
    return {"unread uncached, 200 rooms": statistics.median(uncached), "unread cached": statistics.median(cached),
            "unread, one room changed": statistics.median(partial)}


def measure_threads(connection, busy, hot, args) -> dict:
    """A 500-reply thread's newest page, and GET /unread for ``busy`` (in
    every room) with 50 DMs and 100 followed threads, each read halfway."""
    from accounts.services import user_create
    from chatroom.models import Room, RoomMember

    rng = random.Random(11)
    samples = max(args.samples // 5, 20)
    with connection.cursor() as cursor:
        # Roots: a message a month ago in the hot room, and one in each of 99 other rooms.
        month_ago = datetime.now(timezone.utc) - timedelta(days=30)
        cursor.execute("""SELECT DISTINCT ON (m.room_id) m.room_id, m.id, m.created_at, m.user_id FROM messages m
                          WHERE m.created_at <= %s AND m.created_at > %s AND m.thread_id IS NULL
                          ORDER BY m.room_id, m.created_at DESC""", [month_ago, month_ago - timedelta(days=30)])
        found = cursor.fetchall()
    from chatroom.models import Thread

    if Thread.objects.filter(reply_count=500).exists():  # --measure-only: written already
        big = Thread.objects.filter(reply_count=500).values_list("room_id", "root_id", "root_created_at").first()
        return _time_threads(connection, busy, big, samples)
    found.sort(key=lambda r: r[0] != hot.id)
    big, others = found[0], found[1:100]
    assert big[0] == hot.id, "the hot room has a root"

    def replies(root, n, user_ids):
        """n replies over the month since the root, thread-only, and its summary."""
        room_id, root_id, root_at, _ = root
        rows = []
        for i in range(n):
            at = root_at + timedelta(seconds=(i + 1) * (30 * 86400 / (n + 1)))
            rows.append((uuid.uuid4(), at, room_id, rng.choice(user_ids), f"reply {i}", root_id, root_at))
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO messages (id, created_at, room_id, user_id, content, message_type, "
                               "is_edited, is_deleted, is_pinned, metadata, updated_at, thread_id, thread_created_at, "
                               "also_to_room) VALUES (%s, %s, %s, %s, %s, 'text', false, false, false, '{}', %s, %s, "
                               "%s, false)", [(a, b, c, d, e, b, f, g) for a, b, c, d, e, f, g in rows])
            cursor.execute("INSERT INTO chat_threads (root_id, root_created_at, room_id, reply_count, last_reply_at, "
                           "participants) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (root_id) DO UPDATE SET "
                           "reply_count = EXCLUDED.reply_count, last_reply_at = EXCLUDED.last_reply_at",
                           [root_id, root_at, room_id, n, rows[-1][1], list({r[3] for r in rows})])
        return rows

    authors = list(RoomMember.objects.filter(room_id=hot.id).exclude(user=busy).values_list("user_id", flat=True))
    t0 = time.perf_counter()
    replies(big, 500, authors)
    for root in others:
        replies(root, 10, authors)
    # 50 DMs of the busy user, 20 messages each.
    with connection.cursor() as cursor:
        for i in range(50):
            other = user_create(username=f"dm-peer-{i}", email=f"peer{i}@example.com", password=None)
            room = Room.objects.create(kind=Room.Kind.DM, name="", owner=busy, dm_key=f"bench-dm-{i}", allow_invites=False)
            RoomMember.objects.bulk_create([RoomMember(room=room, user=busy), RoomMember(room=room, user=other)])
            start = datetime.now(timezone.utc) - timedelta(days=20)
            cursor.executemany("INSERT INTO messages (id, created_at, room_id, user_id, content, message_type, "
                               "is_edited, is_deleted, is_pinned, metadata, updated_at) VALUES (%s, %s, %s, %s, 'hi', "
                               "'text', false, false, false, '{}', %s)",
                               [(uuid.uuid4(), start + timedelta(hours=j), room.id, other.id,
                                 start + timedelta(hours=j)) for j in range(20)])
        # busy follows the 100 threads, read halfway through each.
        cursor.execute("""INSERT INTO thread_follows (user_id, root_id, root_created_at, room_id, following,
                                                      last_read_message_id, last_read_at, created_at)
                          SELECT %s, t.root_id, t.root_created_at, t.room_id, true, h.id, h.created_at, now()
                          FROM chat_threads t CROSS JOIN LATERAL (
                              SELECT m.id, m.created_at FROM messages m WHERE m.thread_id = t.root_id
                              ORDER BY m.created_at OFFSET t.reply_count / 2 LIMIT 1) h
                          ON CONFLICT DO NOTHING""", [busy.id])
        cursor.execute("ANALYZE messages; ANALYZE thread_follows; ANALYZE chat_threads")
    print(f"\n  threads: a 500-reply thread and 99 of 10 replies, 50 DMs, written in "
          f"{time.perf_counter() - t0:.1f} s")
    return _time_threads(connection, busy, big, samples)


def _time_threads(connection, busy, big, samples) -> dict:
    from chatroom import thread_selectors, thread_state, unread
    from chatroom.models import RoomMember
    from chatroom.selectors import unread_counts

    def timed(fn) -> list[float]:
        for _ in range(5):
            fn()
        ms = []
        for _ in range(samples):
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1000)
        return ms

    page = timed(lambda: thread_selectors.thread_messages(user=busy, root_id=big[1], limit=50))
    body = timed(lambda: thread_selectors.thread_messages(user=busy, root_id=big[1], limit=50).as_dict())
    assert len(thread_selectors.thread_messages(user=busy, root_id=big[1], limit=50).messages) == 50
    totals = timed(lambda: thread_state.totals(busy))
    room_ids = list(RoomMember.objects.filter(user=busy).values_list("room_id", flat=True))
    uncached = timed(lambda: (unread._count(busy, room_ids), thread_state.totals(busy)))
    counts = unread_counts(user=busy)
    cached = timed(lambda: unread_counts(user=busy))
    print(f"  ({len(room_ids)} memberships, {counts['threads']} over the followed threads)")
    for label, ms in (("500-reply thread, newest page", page), ("  ... the full API body", body),
                      ("followed threads' counts (100)", totals),
                      ("GET /unread uncached (rooms + threads)", uncached),
                      ("GET /unread, rooms cached", cached)):
        print(f"    {label:<40} p50 {statistics.median(ms):8.2f} ms   p99 {percentile(ms, 99):8.2f} ms")
    return {"thread newest page (500 replies)": statistics.median(page),
            "unread with threads, uncached": statistics.median(uncached),
            "unread with threads, cached": statistics.median(cached)}


def rooms_by_traffic(room_ids):
    from chatroom.models import Room

    return Room.objects.filter(id__in=room_ids, name="bench-room-0").values_list("id", flat=True).first() or room_ids[0]


def _relations(node) -> set[str]:
    names = set()
    if node.get("Relation Name", "").startswith("messages"):
        names.add(node["Relation Name"])
    for child in node.get("Plans", []):
        names |= _relations(child)
    return names


if __name__ == "__main__":
    sys.exit(main())
