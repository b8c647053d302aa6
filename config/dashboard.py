"""The home page, a dashboard of the user's own things: conversations with
unread messages, recent mentions, their running jobs (kept live over the
socket by static/js/dashboard.js) and the next scheduled runs. It reads
chat and jobs through their selectors, so it sits with the project's
wiring, above the apps (tests/test_layering.py). Times are in the user's
time zone and words (accounts.dates)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from accounts import dates
from chatroom import sidebar
from jobs.models import Job
from jobs.selectors import jobs_for, schedules_for

RUNNING_SHOWN = 10
SCHEDULES_SHOWN = 5


@login_required
def home(request):
    user = request.user
    zone = dates.zone_of(user)
    chat = sidebar.sidebar(user)
    unread = sorted((r for r in [*chat["channels"], *chat["dms"]] if r.unread),
                    key=lambda r: (-r.mentions, -r.unread))
    running = list(jobs_for(user).filter(user=user, status__in=Job.ACTIVE).order_by("-created_at")[:RUNNING_SHOWN])
    upcoming = list(schedules_for(user).filter(user=user, is_active=True, next_run_at__isnull=False)
                    .order_by("next_run_at")[:SCHEDULES_SHOWN])
    for rule in upcoming:
        rule.next_label, rule.next_in = dates.label(rule.next_run_at, zone), dates.ahead(rule.next_run_at)
    mentions = sidebar.recent_mentions(user)
    for message in mentions:
        message.ago = dates.ago(message.created_at)
    with timezone.override(zone):
        return render(request, "home.html", {
            "sidebar": chat, "unread": unread, "mentions": mentions,
            "running": running, "upcoming": upcoming,
        })
