"""The dashboard's chart data, one function per chart, for a Scope and a
range. Each returns a Series (x labels and named value lists), which the
page draws (ops.charts) and the CSV export writes, so both show the same
numbers.

Staff's per-day charts read daily_stats; an org's are computed from its own
rooms and members (daily_stats is global). Live sockets and messages per
minute come from system_metrics: per minute the sum over processes, then
the mean per bucket; latency from system_metrics (requests) and
performance_metrics (fan-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from ops.models import FANOUT_LATENCY, DailyStat
from ops.selectors import Scope, weighted_p95_sql

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "90d": timedelta(days=90)}
# Time buckets for the per-minute data, per range.
BUCKETS = {"24h": "hour", "7d": "hour", "90d": "day"}
# The ranges as the page words them (the keys stay in the query string).
RANGE_TEXTS = {"24h": pgettext_lazy("range", "24h"), "7d": pgettext_lazy("range", "7d"),
               "90d": pgettext_lazy("range", "90d")}
# The value lists' names are the CSV's column names (kept as they are, for
# spreadsheets and scripts); the charts' legends word them in the reader's language.
LEGEND_TEXTS = {
    "total users": gettext_lazy("total users"), "active users": gettext_lazy("active users"),
    "new messages": gettext_lazy("new messages"), "members": gettext_lazy("members"),
    "storage MB": gettext_lazy("storage (MB)"), "sockets": gettext_lazy("sockets"),
    "messages/min": gettext_lazy("messages/min"), "completed": gettext_lazy("completed"),
    "failed": gettext_lazy("failed"), "HTTP requests": gettext_lazy("HTTP requests"),
    "fan-out": gettext_lazy("fan-out"),
}


@dataclass
class Series:
    key: str
    title: str
    labels: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def legend(self, name: str) -> str:
        return str(LEGEND_TEXTS.get(name, name))

    def rows(self) -> list[list]:
        return [[label, *(self.values[name][i] for name in self.values)] for i, label in enumerate(self.labels)]


def _days(range_key: str, now: datetime) -> list[date]:
    count = max(RANGES[range_key].days, 2)  # 24 h spans yesterday and today
    today = now.date()
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def _buckets(range_key: str, now: datetime) -> list[datetime]:
    unit = BUCKETS[range_key]
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    end = now.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        end = end.replace(hour=0)
    start = now - RANGES[range_key]
    start = start.replace(minute=0, second=0, microsecond=0) if unit == "hour" else start.replace(
        hour=0, minute=0, second=0, microsecond=0)
    out, at = [], start
    while at <= end:
        out.append(at)
        at += step
    return out


def _bucket_label(moment: datetime, range_key: str) -> str:
    return moment.strftime("%m-%d %H:00" if BUCKETS[range_key] == "hour" else "%Y-%m-%d")


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _org_daily(scope: Scope, days: list[date]) -> dict[date, dict]:
    """Per day for one org: members as of the day's end, messages posted in
    its rooms that day, storage of its rooms' attachments by then."""
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=timezone.utc)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    org_id = scope.org.pk
    out = {day: {"users": 0, "messages": 0, "storage": 0} for day in days}
    for day in days:
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        ((members, storage),) = _fetch(
            """SELECT (SELECT count(*) FROM user_roles WHERE organization_id = %s AND is_active AND assigned_at < %s),
                      (SELECT coalesce(sum(a.size), 0) FROM attachments a JOIN chat_rooms r ON r.id = a.room_id
                       WHERE r.org_id = %s AND a.created_at < %s)""",
            [org_id, day_end, org_id, day_end])
        out[day]["users"], out[day]["storage"] = members, int(storage)
    for day, n in _fetch(
            """SELECT (m.created_at AT TIME ZONE 'UTC')::date, count(*) FROM messages m
               JOIN chat_rooms r ON r.id = m.room_id
               WHERE r.org_id = %s AND m.created_at >= %s AND m.created_at < %s GROUP BY 1""",
            [org_id, start, end]):
        out[day]["messages"] = n
    return out


def activity(scope: Scope, range_key: str, now: datetime) -> Series:
    days = _days(range_key, now)
    series = Series("activity", _("Users and messages per day (UTC)"), labels=[d.isoformat() for d in days])
    if scope.org is None:
        rows = {s.stat_date: s for s in DailyStat.objects.filter(stat_date__gte=days[0], stat_date__lte=days[-1])}
        series.values = {
            "total users": [rows[d].total_users if d in rows else 0 for d in days],
            "active users": [rows[d].active_users if d in rows else 0 for d in days],
            "new messages": [rows[d].new_messages if d in rows else 0 for d in days],
        }
    else:
        org = _org_daily(scope, days)
        series.values = {"members": [org[d]["users"] for d in days],
                         "new messages": [org[d]["messages"] for d in days]}
    return series


def storage(scope: Scope, range_key: str, now: datetime) -> Series:
    days = _days(range_key, now)
    series = Series("storage", _("Storage used (MB)"), labels=[d.isoformat() for d in days])
    if scope.org is None:
        rows = dict(DailyStat.objects.filter(stat_date__gte=days[0], stat_date__lte=days[-1])
                    .values_list("stat_date", "storage_used_bytes"))
        used = [rows.get(d, 0) for d in days]
    else:
        org = _org_daily(scope, days)
        used = [org[d]["storage"] for d in days]
    series.values = {"storage MB": [round(b / 1_000_000, 3) for b in used]}
    return series


def live(scope: Scope, range_key: str, now: datetime) -> Series:
    """Sockets open and messages per minute (all processes); staff only."""
    buckets = _buckets(range_key, now)
    unit = BUCKETS[range_key]
    series = Series("live", _("Live sockets and messages per minute (UTC)"), labels=[_bucket_label(b, range_key)
                                                                            for b in buckets])
    for name, label in (("active_connections", "sockets"), ("message_rate", "messages/min")):
        rows = dict(_fetch(
            """SELECT bucket, avg(total) FROM (
                   SELECT date_trunc(%s, created_at AT TIME ZONE 'UTC') AS bucket,
                          date_trunc('minute', created_at) AS minute, sum(metric_value) AS total
                   FROM system_metrics WHERE metric_name = %s AND created_at >= %s
                   GROUP BY 1, 2) per_minute
               GROUP BY bucket""",
            [unit, name, buckets[0]]))
        series.values[label] = [round(float(rows.get(b.replace(tzinfo=None), 0) or 0), 2) for b in buckets]
    return series


def jobs(scope: Scope, range_key: str, now: datetime) -> Series:
    buckets = _buckets(range_key, now)
    unit = BUCKETS[range_key]
    series = Series("jobs", _("Jobs finished and failed (UTC)"), labels=[_bucket_label(b, range_key) for b in buckets])
    params: list = [unit, buckets[0]]
    org_filter = ""
    if scope.org is not None:
        org_filter = " AND user_id IN (SELECT user_id FROM user_roles WHERE organization_id = %s AND is_active)"
        params.append(scope.org.pk)
    rows = _fetch(
        f"""SELECT date_trunc(%s, completed_at AT TIME ZONE 'UTC'), status, count(*) FROM jobs
            WHERE completed_at >= %s AND status IN ('completed', 'failed'){org_filter} GROUP BY 1, 2""", params)
    counts = {(bucket, status): n for bucket, status, n in rows}
    series.values = {
        "completed": [counts.get((b.replace(tzinfo=None), "completed"), 0) for b in buckets],
        "failed": [counts.get((b.replace(tzinfo=None), "failed"), 0) for b in buckets],
    }
    return series


def latency(scope: Scope, range_key: str, now: datetime) -> Series:
    """Request and fan-out latency: per bucket, the minutes' p95s averaged,
    each weighted by its count (ops.selectors.weighted_p95_sql); staff only."""
    buckets = _buckets(range_key, now)
    unit = BUCKETS[range_key]
    series = Series("latency", _("Latency p95 (ms, UTC)"), labels=[_bucket_label(b, range_key) for b in buckets])
    # One row per process-minute each: every request's p95 is system_metrics'
    # response_time (its tags count the requests); the per-view rows of
    # performance_metrics would be one per view, far more to scan over 90 days.
    for table, name, value, count, label in (
            ("system_metrics", "response_time", "metric_value", "requests", "HTTP requests"),
            ("performance_metrics", FANOUT_LATENCY, "value", "count", "fan-out")):
        rows = dict(_fetch(
            f"""SELECT date_trunc(%s, created_at AT TIME ZONE 'UTC'), {weighted_p95_sql(value, count)}
                FROM {table} WHERE metric_name = %s AND created_at >= %s GROUP BY 1""",
            [unit, name, buckets[0]]))
        series.values[label] = [round(float(rows.get(b.replace(tzinfo=None)) or 0), 1) for b in buckets]
    return series


CHARTS = {"activity": activity, "storage": storage, "live": live, "latency": latency, "jobs": jobs}
STAFF_ONLY = {"live", "latency"}  # process metrics are not any one org's


def charts_for(scope: Scope) -> list[str]:
    return [key for key in CHARTS if scope.org is None or key not in STAFF_ONLY]
