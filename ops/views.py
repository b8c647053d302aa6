"""The staff dashboard (/staff/dashboard/), its CSV exports, and the
statistics section of a user's profile page."""

from __future__ import annotations

import csv
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.errors import NotFound, PermissionDenied, ValidationFailed, parse_uuid
from ops import charts, health, replica_status, series
from ops.selectors import (ENDPOINTS_RANGE_MAX, dashboard_scope, recent_events_for, slowest_endpoints_for,
                           stats_admin_orgs, user_daily_for)


def _scope_and_range(request):
    range_key = request.GET.get("range", "7d")
    if range_key not in series.RANGES:
        range_key = "7d"
    raw_org = request.GET.get("org") or None
    try:
        org_id = parse_uuid(raw_org, "org", optional=True)
        scope = dashboard_scope(actor=request.user, org_id=org_id)
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from None
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ValidationFailed:  # a malformed org id: the same as an unknown one
        raise Http404(_("Organization not found.")) from None
    return scope, range_key


def _reader_zone(user):
    """The reader's profile time zone (UTC when none or unknown)."""
    name = getattr(getattr(user, "profile", None), "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@login_required
@require_GET
def dashboard(request):
    # Times on the page (the events, the audit check) in the reader's zone.
    with timezone.override(_reader_zone(request.user)):
        return _dashboard(request)


def _dashboard(request):
    scope, range_key = _scope_and_range(request)
    now = timezone.now()
    drawn = []
    for key in series.charts_for(scope):
        data = series.CHARTS[key](scope, range_key, now)
        drawn.append({"key": key, "title": data.title, "svg": charts.render(data)})
    return render(request, "ops/dashboard.html", {
        "scope": scope, "range": range_key, "charts": drawn,
        "ranges": [(key, series.RANGE_TEXTS[key]) for key in series.RANGES],
        # An IANA name (Asia/Seoul): a code, shown as it is.
        "zone": format_html('<span translate="no">{}</span>', timezone.get_current_timezone_name()),
        "parts": health.parts() if scope.org is None else None,
        "replicas": replica_status.rows() if scope.org is None else None,
        "replica_max_lag": replica_status.seconds_text(settings.REPLICA_MAX_LAG_SECONDS),
        "events": recent_events_for(actor=request.user) if scope.org is None else None,
        "endpoints": slowest_endpoints_for(actor=request.user, since=now - series.RANGES[range_key])
        if scope.org is None else None,
        # The range the table covers (at most ENDPOINTS_RANGE_MAX), by its key.
        "endpoints_range": (endpoints_range := max((k for k, span in series.RANGES.items()
                                                   if span <= min(series.RANGES[range_key], ENDPOINTS_RANGE_MAX)),
                                                  key=series.RANGES.get)),
        "endpoints_range_text": series.RANGE_TEXTS[endpoints_range],
        "orgs": stats_admin_orgs(actor=request.user) if not request.user.is_staff else [],
    })


@login_required
@require_GET
def export_csv(request, chart: str):
    scope, range_key = _scope_and_range(request)
    if chart not in series.charts_for(scope):
        raise Http404(_("No such chart."))
    data = series.CHARTS[chart](scope, range_key, timezone.now())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chart}-{range_key}.csv"'
    writer = csv.writer(response)
    writer.writerow(["bucket", *data.values])
    writer.writerows(data.rows())
    return response


def profile_section(request) -> str:
    """The "Your activity" table on one's own profile page: the last 14 days."""
    rows = list(user_daily_for(actor=request.user, user_id=request.user.pk).order_by("-date")[:14])
    return render_to_string("ops/_profile_stats.html", {"rows": rows}, request=request)
