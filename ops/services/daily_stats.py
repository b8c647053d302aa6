"""daily_stats and user_statistics for one UTC day, from the data itself.

Every figure is "as of the end of that day" or "during that day", read from
timestamps the rows carry, so computing a day again (the beat task run
twice, a backfill over days already done) gives the same row: idempotent by
construction, and upserted on (stat_date) / (user, date).

- active users: anyone with activity that day: a message posted, a socket
  session (online_time_stats), or an API request (a device session or API
  key last used that day, last_active_at that day, or a request the web
  processes saw that day, ops.activity). That last record is kept a week and
  a session's or key's last use is all that is kept of it, so the nightly
  run is exact and a backfill of older days may count fewer.
- storage_used_bytes: attachments uploaded by then. Avatars are URLs
  (accounts.User.avatar_url), not stored files, so they add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from django.db import connection, transaction
from django.db.models import Count, Sum

from accounts.models import ApiKey, DeviceSession, OnlineTimeStat, User
from chatroom.models import Attachment, Message, Room
from jobs.models import Job
from ops import activity
from ops.models import DailyStat, UserStatistic


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def active_user_ids(day: date) -> set:
    start, end = day_bounds(day)
    ids: set = set()
    ids.update(Message.objects.filter(created_at__gte=start, created_at__lt=end).values_list("user_id", flat=True)
               .distinct())
    ids.update(OnlineTimeStat.objects.filter(date=day, total_seconds__gt=0).values_list("user_id", flat=True))
    ids.update(DeviceSession.objects.filter(last_used_at__gte=start, last_used_at__lt=end)
               .values_list("user_id", flat=True))
    ids.update(ApiKey.objects.filter(last_used_at__gte=start, last_used_at__lt=end).values_list("user_id", flat=True))
    ids.update(User.objects.filter(last_active_at__gte=start, last_active_at__lt=end).values_list("id", flat=True))
    # Requests the web processes saw that day (ops.activity; kept a week).
    seen = activity.seen_on(day.isoformat())
    if seen:
        ids.update(User.objects.filter(id__in=list(seen)).values_list("id", flat=True))
    return ids


def daily_values(day: date) -> dict:
    start, end = day_bounds(day)
    messages = Message.objects.filter(created_at__lt=end)
    return {
        "total_users": User.objects.filter(created_at__lt=end).count(),
        "active_users": len(active_user_ids(day)),
        "new_users": User.objects.filter(created_at__gte=start, created_at__lt=end).count(),
        "total_rooms": Room.objects.filter(created_at__lt=end).count(),
        "new_rooms": Room.objects.filter(created_at__gte=start, created_at__lt=end).count(),
        "total_messages": messages.count(),
        "new_messages": messages.filter(created_at__gte=start).count(),
        "storage_used_bytes": Attachment.objects.filter(created_at__lt=end).aggregate(s=Sum("size"))["s"] or 0,
    }


def _job_bytes_by_user(start: datetime, end: datetime) -> dict:
    """Bytes moved by the jobs that finished in [start, end), per user (the
    runner's last stats, result["bytes"])."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT user_id, count(*), coalesce(sum(CASE WHEN jsonb_typeof(result->'bytes') = 'number'
                                                   THEN (result->>'bytes')::numeric ELSE 0 END), 0)::bigint
            FROM jobs WHERE completed_at >= %s AND completed_at < %s GROUP BY user_id
            """,
            [start, end],
        )
        return {user_id: (runs, moved) for user_id, runs, moved in cursor.fetchall()}


def user_values(day: date) -> dict:
    """{user_id: {messages_sent, files_uploaded, bytes_transferred, jobs_run, online_seconds}}
    for every user with anything that day."""
    start, end = day_bounds(day)
    rows: dict = {}

    def row(user_id) -> dict:
        return rows.setdefault(user_id, {"messages_sent": 0, "files_uploaded": 0, "bytes_transferred": 0,
                                         "jobs_run": 0, "online_seconds": 0})

    for user_id, n in (Message.objects.filter(created_at__gte=start, created_at__lt=end).values("user_id")
                       .annotate(n=Count("id")).values_list("user_id", "n")):
        row(user_id)["messages_sent"] = n
    for user_id, n in (Attachment.objects.filter(created_at__gte=start, created_at__lt=end).values("uploader_id")
                       .annotate(n=Count("id")).values_list("uploader_id", "n")):
        row(user_id)["files_uploaded"] = n
    for user_id, (runs, moved) in _job_bytes_by_user(start, end).items():
        row(user_id).update(jobs_run=runs, bytes_transferred=int(moved))
    for user_id, seconds in OnlineTimeStat.objects.filter(date=day).values_list("user_id", "total_seconds"):
        row(user_id)["online_seconds"] = seconds
    return rows


@dataclass
class DayResult:
    day: date
    stat: DailyStat
    users: int


def stats_compute_day(*, day: date) -> DayResult:
    """Compute (or recompute) one day's daily_stats row and its
    user_statistics rows; a user with nothing that day any more loses their
    row, so a recomputation matches a first computation."""
    values = daily_values(day)
    per_user = user_values(day)
    with transaction.atomic():
        stat, _ = DailyStat.objects.update_or_create(stat_date=day, defaults=values)
        UserStatistic.objects.filter(date=day).exclude(user_id__in=list(per_user)).delete()
        for user_id, measures in per_user.items():
            UserStatistic.objects.update_or_create(user_id=user_id, date=day, defaults=measures)
    return DayResult(day=day, stat=stat, users=len(per_user))


def stats_backfill(*, since: date, until: date) -> list[DayResult]:
    """Every day from ``since`` to ``until`` inclusive, oldest first."""
    if since > until:
        raise ValueError("since must not be after until")
    results, day = [], since
    while day <= until:
        results.append(stats_compute_day(day=day))
        day += timedelta(days=1)
    return results
