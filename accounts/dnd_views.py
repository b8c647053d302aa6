"""Do not disturb and missed-message mail on one's own profile page (issue
18): a section of the page (accounts.profile_sections) and the form's POST,
which goes through accounts.dnd.dnd_set and profile_update like the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import dates, dnd, selectors
from accounts.models import Profile
from accounts.services import profile_update
from core.errors import ApplicationError

PAUSES = [("keep", gettext_lazy("Keep as it is")), ("off", gettext_lazy("Off")), ("1h", gettext_lazy("For 1 hour")),
          ("4h", gettext_lazy("For 4 hours")), ("tomorrow", gettext_lazy("Until tomorrow 08:00")),
          ("custom", gettext_lazy("Until…"))]


class DndForm(forms.Form):
    pause = forms.ChoiceField(choices=PAUSES, initial="keep", label=gettext_lazy("Pause notifications"))
    until = forms.DateTimeField(required=False, label=gettext_lazy("Until (your time)"),
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    scheduled = forms.BooleanField(required=False, label=gettext_lazy("Every day"))
    start = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    email_notifications = forms.BooleanField(required=False,
                                             label=gettext_lazy("Email me about mentions, direct messages and "
                                                                "thread replies I missed"))


def _until(pause: str, custom, zone: ZoneInfo):
    now = timezone.now()
    if pause == "off":
        return None
    if pause in ("1h", "4h"):
        return now + timedelta(hours=int(pause[0]))
    if pause == "tomorrow":
        local = now.astimezone(zone) + timedelta(days=1)
        return local.replace(hour=8, minute=0, second=0, microsecond=0)
    if custom is None:
        raise ApplicationError(_("Choose the time it lasts until."))
    return (custom.replace(tzinfo=zone) if timezone.is_naive(custom) else custom)


def profile_section(request) -> str:
    profile = selectors.profile_of(request.user)
    state = dnd.dnd_state(profile.preferences, profile.timezone)
    schedule = state["schedule"] or {}
    prefs = profile.preferences or {}
    form = DndForm(initial={"scheduled": bool(state["schedule"]), "start": schedule.get("start") or "22:00",
                            "end": schedule.get("end") or "08:00",
                            "email_notifications": prefs.get("email_notifications") is not False})
    ends = None
    if state["ends_at"]:
        ends = datetime.fromisoformat(state["ends_at"].replace("Z", "+00:00")).astimezone(dnd._zone(profile.timezone))
    return render_to_string("accounts/_dnd.html", {"form": form, "state": state, "ends": ends,
                                                   "ends_label": dates.label(ends, ends.tzinfo) if ends else "",
                                                   "tz": profile.timezone}, request=request)


@login_required
@require_POST
def dnd_save(request):
    form = DndForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the do-not-disturb times."))
        return redirect("profile")
    data = form.cleaned_data
    profile = selectors.profile_of(request.user)
    zone = dnd._zone(profile.timezone)
    changes = {}
    try:
        if data["pause"] != "keep":
            changes["until"] = _until(data["pause"], data["until"], zone)
        if data["scheduled"]:
            if data["start"] is None or data["end"] is None:
                raise ApplicationError(_("A daily schedule needs a start and an end."))
            changes["schedule"] = {"start": data["start"].strftime("%H:%M"), "end": data["end"].strftime("%H:%M")}
        else:
            changes["schedule"] = None
        dnd.dnd_set(actor=request.user, **changes)
        profile = Profile.objects.get(user=request.user)  # as dnd_set left it
        if (profile.preferences or {}).get("email_notifications", True) != data["email_notifications"]:
            profile_update(actor=request.user, user=request.user,
                           preferences={**(profile.preferences or {}),
                                        "email_notifications": data["email_notifications"]})
    except ApplicationError as exc:
        detail = _("; ").join(m for msgs in (exc.fields or {}).values() for m in msgs) if exc.fields else exc.message
        messages.error(request, _("Do not disturb was not changed: %(detail)s") % {"detail": detail})
        return redirect("profile")
    messages.success(request, _("Notification settings saved."))
    return redirect("profile")
