"""The "Scheduled" page (/chat/scheduled/): the user's scheduled messages by
status, with edit and cancel for those still waiting. Thin: reads through
chatroom.scheduled_selectors, writes through the send-later services; times
are shown and entered in the user's profile time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from chatroom import scheduled_selectors
from chatroom.models import RoomMember
from chatroom.page_access import user_zone
from chatroom.services import scheduled_messages
from core.errors import ApplicationError, ValidationFailed

Status = scheduled_selectors.Status
TABS = [(Status.SCHEDULED, pgettext_lazy("scheduled message status", "Scheduled")),
        (Status.SENT, pgettext_lazy("scheduled message status", "Sent")),
        (Status.FAILED, pgettext_lazy("scheduled message status", "Failed")),
        (Status.CANCELLED, pgettext_lazy("scheduled message status", "Cancelled"))]
STATUS_LABELS = dict(TABS)

_zone = user_zone


def _wall_time(value: str, zone: ZoneInfo) -> datetime:
    """A datetime-local value ("2026-12-04T09:00") read in the user's zone."""
    try:
        naive = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ValidationFailed(fields={"send_at": [_("Pick a date and a time.")]}) from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=zone)


@login_required
def scheduled_page(request):
    status = request.GET.get("status") or Status.SCHEDULED
    if status not in Status.values:
        status = Status.SCHEDULED
    zone = _zone(request.user)
    items = list(scheduled_selectors.scheduled_list(user=request.user, status=status)
                 .order_by("send_at" if status == Status.SCHEDULED else "-send_at", "id")[:200])
    people: dict = {}
    dm_ids = {item.room_id for item in items if item.room.is_dm}
    for room_id, username in (RoomMember.objects.filter(room_id__in=dm_ids).exclude(user=request.user)
                              .order_by("user__username").values_list("room_id", "user__username")):
        people.setdefault(room_id, []).append(username)
    for item in items:
        item.local_value = timezone.localtime(item.send_at, zone).strftime("%Y-%m-%dT%H:%M")
        item.people = pgettext("list separator", ", ").join(people.get(item.room_id, []))
        item.status_label = STATUS_LABELS.get(item.status, item.status)
    counts = {s: 0 for s in Status.values}
    for s in scheduled_selectors.scheduled_list(user=request.user).values_list("status", flat=True):
        counts[s] += 1
    with timezone.override(zone):
        return render(request, "chatroom/scheduled.html", {
            "items": items, "status": status, "zone": zone.key, "now_value": timezone.localtime(timezone.now(), zone)
            .strftime("%Y-%m-%dT%H:%M"), "tabs": [(s, label, counts[s]) for s, label in TABS],
        })


@login_required
@require_POST
def scheduled_edit(request, scheduled_id):
    try:
        scheduled_messages.scheduled_update(
            actor=request.user, scheduled_id=scheduled_id, content=request.POST.get("content", ""),
            send_at=_wall_time(request.POST.get("send_at", ""), _zone(request.user)))
    except ApplicationError as exc:
        messages.error(request, " ".join(sum((list(v) for v in (exc.fields or {}).values()), [])) or exc.message)
    else:
        messages.info(request, _("Scheduled message changed."))
    return redirect("chatroom:scheduled")


@login_required
@require_POST
def scheduled_cancel(request, scheduled_id):
    try:
        scheduled_messages.scheduled_cancel(actor=request.user, scheduled_id=scheduled_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, _("Scheduled message cancelled."))
    return redirect("chatroom:scheduled")
