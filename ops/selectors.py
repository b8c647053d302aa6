"""Reads of the operations data, scoped to the actor.

Who sees what (one rule each, used by the API and the pages alike):
- daily_stats, system_metrics, performance_metrics, system_events: staff.
- a user's daily statistics: the user, staff, and the admins of an org the
  user is an active member of (STATS_ADMIN in that org).
- the dashboard: staff see everything; an org's admins see it scoped to
  that org's rooms and members (``dashboard_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import NotFound, PermissionDenied
from ops.models import HTTP_REQUEST_DURATION, DailyStat, SystemEvent, SystemMetric, UserStatistic
from orgs.models import Membership, Organization
from orgs.permissions import active_membership_q, has_permission

# Reading an org's statistics shows what every member did: a manager's
# power, like reading its audit trail. Every member holds {"*": ["read"]},
# so it takes "write" on "stats": the owner and admin system roles hold it.
STATS_ADMIN = ("stats", "write")
METRIC_ROWS_MAX = 10_000


def _require_staff(actor: User) -> None:
    if not (actor.is_authenticated and actor.is_staff and actor.is_active):
        raise PermissionDenied(_("Staff only."))


def stats_admin_orgs(*, actor: User) -> list[Organization]:
    """The active orgs whose statistics ``actor`` may read as their admin."""
    if not actor.is_authenticated:
        return []
    candidates = Organization.objects.filter(
        is_active=True, memberships__in=Membership.objects.filter(active_membership_q(), user=actor)).distinct()
    return [org for org in candidates.order_by("name") if has_permission(actor, org, *STATS_ADMIN)]


def daily_stats_for(*, actor: User, since: date | None = None, until: date | None = None) -> QuerySet[DailyStat]:
    _require_staff(actor)
    rows = DailyStat.objects.order_by("stat_date")
    if since:
        rows = rows.filter(stat_date__gte=since)
    if until:
        rows = rows.filter(stat_date__lte=until)
    return rows


def may_read_user_stats(*, actor: User, user: User) -> bool:
    if actor.pk == user.pk or actor.is_staff:
        return True
    shared = Organization.objects.filter(
        is_active=True, memberships__in=Membership.objects.filter(active_membership_q(), user=user))
    return any(has_permission(actor, org, *STATS_ADMIN) for org in shared.filter(
        memberships__in=Membership.objects.filter(active_membership_q(), user=actor)).distinct())


def user_daily_for(*, actor: User, user_id, since: date | None = None,
                   until: date | None = None) -> QuerySet[UserStatistic]:
    """A user's days; someone who may not read them learns nothing, not even
    whether the user exists (NotFound)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not may_read_user_stats(actor=actor, user=user):
        raise NotFound(_("User not found."))
    rows = UserStatistic.objects.filter(user=user).order_by("date")
    if since:
        rows = rows.filter(date__gte=since)
    if until:
        rows = rows.filter(date__lte=until)
    return rows


def metric_rows_for(*, actor: User, name: str | None = None, since=None, until=None,
                    server_id: str | None = None) -> QuerySet[SystemMetric]:
    """At most METRIC_ROWS_MAX rows, the newest, in time order."""
    _require_staff(actor)
    rows = SystemMetric.objects.all()
    if name:
        rows = rows.filter(metric_name=name)
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    if server_id:
        rows = rows.filter(server_id=server_id)
    newest = rows.order_by("-created_at").values("id")[:METRIC_ROWS_MAX]
    return SystemMetric.objects.filter(id__in=newest).order_by("created_at", "server_id", "metric_name")


@dataclass(frozen=True)
class Scope:
    """What a dashboard shows: everything (org None, staff) or one org."""

    org: Organization | None

    @property
    def label(self) -> str:
        return self.org.name if self.org else _("all organizations")


def dashboard_scope(*, actor: User, org_id=None) -> Scope:
    """Staff: everything, or one org when they ask. An org admin: their org
    (the first they administer unless they name one). Anyone else:
    PermissionDenied; an org they may not read: NotFound."""
    if not actor.is_authenticated:
        raise PermissionDenied(_("Log in first."))
    if actor.is_staff and actor.is_active:
        if org_id is None:
            return Scope(org=None)
        org = Organization.objects.filter(pk=org_id).first()
        if org is None:
            raise NotFound(_("Organization not found."))
        return Scope(org=org)
    orgs = stats_admin_orgs(actor=actor)
    if not orgs:
        raise PermissionDenied(_("Only staff and organization admins can see the dashboard."))
    if org_id is None:
        return Scope(org=orgs[0])
    for org in orgs:
        if str(org.pk) == str(org_id):
            return Scope(org=org)
    raise NotFound(_("Organization not found."))


def recent_events_for(*, actor: User, limit: int = 20) -> list[SystemEvent]:
    _require_staff(actor)
    return list(SystemEvent.objects.order_by("-created_at")[:limit])


# Tables with one p95 a row, per minute per process: over many minutes and
# processes the p95s are averaged, each weighted by its count, so a busy
# minute weighs more than an idle one (a worker's minute, with no requests,
# weighs nothing). The dashboard's latency chart (ops.series) uses the same.
def weighted_p95_sql(value: str = "value", count_tag: str = "count") -> str:
    """SQL for that mean; ``value`` and ``count_tag`` are this module's own
    column and tag names, never input."""
    count = f"(tags->>'{count_tag}')::bigint"
    return f"sum({value} * {count}) / nullif(sum({count}), 0)"


# The slowest endpoints read every view's rows: their range is at most this
# (a 90-day scan of per-view minute rows would make the page slow).
ENDPOINTS_RANGE_MAX = timedelta(days=7)


@dataclass(frozen=True)
class EndpointLatency:
    view: str
    requests: int
    errors: int
    p95_ms: float  # the minutes' p95s, weighted by their requests
    worst_ms: float  # the worst minute's p95


def slowest_endpoints_for(*, actor: User, since, limit: int = 10) -> list[EndpointLatency]:
    """The views with the highest request-weighted p95 since ``since`` (at
    most ENDPOINTS_RANGE_MAX back from now), from performance_metrics'
    per-minute rows (every process)."""
    _require_staff(actor)
    since = max(since, timezone.now() - ENDPOINTS_RANGE_MAX)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT tags->>'view', sum((tags->>'count')::bigint), sum((tags->>'errors')::bigint),
                      {weighted_p95_sql()}, max(value)
               FROM performance_metrics WHERE metric_name = %s AND created_at >= %s
               GROUP BY 1 ORDER BY 4 DESC NULLS LAST, 2 DESC, 1 LIMIT %s""",
            [HTTP_REQUEST_DURATION, since, limit])
        return [EndpointLatency(view or "", int(n or 0), int(e or 0), float(p95 or 0), float(worst or 0))
                for view, n, e, p95, worst in cursor.fetchall()]
