"""Do not disturb (issue 18): until a time, or on a daily schedule in the
user's time zone (22:00 to 08:00, crossing midnight, or 12:00 to 13:00).

Kept in ``profile.preferences``: ``dnd_until`` (an ISO 8601 time, or null)
and ``dnd_schedule`` ({"start": "HH:MM", "end": "HH:MM"}, or null). While it
lasts, the page's notifier shows no desktop notifications (``ready``'s user
and the ``dnd`` frame carry the state) and no missed-message mail goes out;
in-app notifications are still stored. The one reading of the rule is
``dnd_state``; everything else asks it."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone as dj_timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Profile, User
from core.errors import ValidationFailed
from core.timestamps import isoformat_z
from realtime import broadcast, registry

UNTIL, SCHEDULE = "dnd_until", "dnd_schedule"
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
FRAME = "dnd"


def _zone(name: str):
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _clock(value) -> time | None:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    return time(int(match[1]), int(match[2])) if match else None


def _schedule_end(schedule, local: datetime) -> datetime | None:
    """When the schedule's current window ends, if ``local`` is inside one."""
    if not isinstance(schedule, dict):
        return None
    start, end = _clock(schedule.get("start")), _clock(schedule.get("end"))
    if start is None or end is None or start == end:
        return None
    now = local.timetz().replace(tzinfo=None)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if start < end:  # within one day
        inside = start <= now < end
        ends = day.replace(hour=end.hour, minute=end.minute)
    else:  # across midnight
        inside = now >= start or now < end
        ends = day.replace(hour=end.hour, minute=end.minute) + (timedelta(days=1) if now >= start else timedelta())
    return ends if inside else None


def dnd_state(preferences, tz_name: str, now: datetime | None = None) -> dict:
    """{active, until, ends_at, schedule}: ``ends_at`` is when the current DND
    ends (null when it is off). Bad stored values read as no DND."""
    preferences = preferences if isinstance(preferences, dict) else {}
    now = now or dj_timezone.now()
    until = parse_datetime(preferences.get(UNTIL) or "") if isinstance(preferences.get(UNTIL), str) else None
    if until is not None and dj_timezone.is_naive(until):
        until = None
    schedule = preferences.get(SCHEDULE) if isinstance(preferences.get(SCHEDULE), dict) else None
    ends = [until] if until is not None and until > now else []
    scheduled = _schedule_end(schedule, now.astimezone(_zone(tz_name)))
    if scheduled is not None:
        ends.append(scheduled)
    return {"active": bool(ends), "ends_at": isoformat_z(max(ends).astimezone(dt_timezone.utc)) if ends else None,
            "until": isoformat_z(until) if until is not None and until > now else None,
            "schedule": {"start": schedule.get("start"), "end": schedule.get("end")} if schedule else None}


def state_of(user: User, now: datetime | None = None) -> dict:
    profile = Profile.objects.filter(user=user).values_list("preferences", "timezone").first() or ({}, "UTC")
    return dnd_state(*profile, now=now)


def in_dnd(user_ids, now: datetime | None = None) -> set:
    """Which of ``user_ids`` are in DND now (one query)."""
    rows = Profile.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "preferences", "timezone")
    return {user_id for user_id, prefs, tz in rows if dnd_state(prefs, tz, now)["active"]}


def _clean_schedule(schedule):
    if schedule is None:
        return None
    if not isinstance(schedule, dict) or _clock(schedule.get("start")) is None or _clock(schedule.get("end")) is None:
        raise ValidationFailed(fields={"schedule": ['{"start": "HH:MM", "end": "HH:MM"} in your time zone, or null.']})
    if schedule["start"] == schedule["end"]:
        raise ValidationFailed(fields={"schedule": [_("Start and end must differ.")]})
    return {"start": schedule["start"], "end": schedule["end"]}


def _clean_until(until, now: datetime):
    if until in (None, ""):
        return None
    value = until if isinstance(until, datetime) else parse_datetime(until) if isinstance(until, str) else None
    if value is None or dj_timezone.is_naive(value):
        raise ValidationFailed(fields={"until": [_("An ISO 8601 time with a time zone, or null.")]})
    if value <= now:
        raise ValidationFailed(fields={"until": ["A time in the future."]})
    if value > now + timedelta(days=366):
        raise ValidationFailed(fields={"until": [_("At most a year ahead.")]})
    return isoformat_z(value)


_UNSET = object()


@transaction.atomic
def dnd_set(*, actor: User, until=_UNSET, schedule=_UNSET) -> dict:
    """Set or clear the actor's own DND; tells the rooms they are in (a
    ``dnd`` frame, so others' presence markers change at once)."""
    from accounts.services import profile_update  # the one writer of profiles

    now = dj_timezone.now()
    profile, _created = Profile.objects.select_for_update().get_or_create(user=actor)
    preferences = dict(profile.preferences or {})
    if until is not _UNSET:
        preferences[UNTIL] = _clean_until(until, now)
    if schedule is not _UNSET:
        preferences[SCHEDULE] = _clean_schedule(schedule)
    profile_update(actor=actor, user=actor, preferences=preferences)
    state = dnd_state(preferences, profile.timezone, now)
    frame = {"type": FRAME, "user_id": str(actor.pk), **state}
    broadcast.user_event(actor.pk, frame)
    for room_id in registry.rooms().user_room_ids(actor.pk):
        broadcast.room_event(room_id, frame)
    return state
