"""The schedule form: common choices (hourly, daily at, weekly on) or a raw
cron rule, an interval or one time, turned into a rule's fields; its
words for a rule; and the next runs as the page shows them, in the rule's
time zone, computed by ``services.next_runs`` (the scheduler's own code,
on cronsim) on an unsaved rule."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ValidationFailed
from jobs import figures, services
from jobs.models import ScheduleRule

REPEATS = (("hourly", gettext_lazy("Every hour")), ("daily", gettext_lazy("Every day at")), ("weekly", gettext_lazy("Every week on")),
           ("cron", gettext_lazy("Custom (cron)")), ("interval", gettext_lazy("Every N minutes")), ("once", gettext_lazy("Once, at")))
WEEKDAYS = (("1", gettext_lazy("Mon")), ("2", gettext_lazy("Tue")), ("3", gettext_lazy("Wed")), ("4", gettext_lazy("Thu")), ("5", gettext_lazy("Fri")),
            ("6", gettext_lazy("Sat")), ("0", gettext_lazy("Sun")))
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_HOURLY_RE = re.compile(r"^(\d{1,2}) \* \* \* \*$")
_DAILY_RE = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")
_WEEKLY_RE = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* ([0-6](?:,[0-6])*)$")


def zones() -> list[str]:
    return sorted(available_timezones())


def _time(value: str) -> tuple[int, int]:
    match = _TIME_RE.match((value or "").strip())
    if not match:
        raise ValidationFailed(fields={"at_time": [_("A time such as 02:30.")]})
    return int(match[1]), int(match[2])


def rule_fields(post) -> dict:
    """The posted choices as ``schedule_create``'s rule fields: rule_type,
    cron_expression, interval_seconds, run_at, timezone_name."""
    repeat = post.get("repeat") or "daily"
    zone_name = (post.get("timezone") or "UTC").strip()
    fields = {"rule_type": "cron", "cron_expression": None, "interval_seconds": None, "run_at": None,
              "timezone_name": zone_name}
    if repeat == "hourly":
        minute = (post.get("at_minute") or "0").strip()
        if not minute.isdigit() or not 0 <= int(minute) <= 59:
            raise ValidationFailed(fields={"at_minute": [_("A minute from 0 to 59.")]})
        fields["cron_expression"] = f"{int(minute)} * * * *"
    elif repeat == "daily":
        hour, minute = _time(post.get("at_time"))
        fields["cron_expression"] = f"{minute} {hour} * * *"
    elif repeat == "weekly":
        hour, minute = _time(post.get("at_time"))
        days = [d for d, _ in WEEKDAYS if d in post.getlist("weekdays")]
        if not days:
            raise ValidationFailed(fields={"weekdays": [_("Pick at least one day.")]})
        fields["cron_expression"] = f"{minute} {hour} * * {','.join(sorted(days))}"
    elif repeat == "cron":
        fields["cron_expression"] = (post.get("cron_expression") or "").strip()
        if not fields["cron_expression"]:
            raise ValidationFailed(fields={"cron_expression": [_("Type a cron rule, e.g. 30 2 * * 1-5.")]})
    elif repeat == "interval":
        minutes = (post.get("every_minutes") or "").strip()
        if not minutes.isdigit() or int(minutes) < 1:
            raise ValidationFailed(fields={"every_minutes": [_("A whole number of minutes, 1 or more.")]})
        fields.update(rule_type="interval", interval_seconds=int(minutes) * 60)
    elif repeat == "once":
        try:
            zone = ZoneInfo(zone_name)
        except (ValueError, KeyError):
            raise ValidationFailed(fields={"timezone": [_("Not a known IANA time zone.")]}) from None
        try:
            moment = datetime.fromisoformat((post.get("once_at") or "").strip())
        except ValueError:
            raise ValidationFailed(fields={"once_at": [_("A date and time.")]}) from None
        fields.update(rule_type="once", run_at=moment if moment.tzinfo else moment.replace(tzinfo=zone))
    else:
        raise ValidationFailed(fields={"repeat": [_("Pick how often it runs.")]})
    return fields


def describe(rule: ScheduleRule) -> str:
    """The rule in words (the form's choices read back)."""
    if rule.rule_type == "interval":
        minutes, seconds = divmod(rule.interval_seconds or 0, 60)
        every = figures.minutes_text(minutes) + (f" {figures.seconds_text(seconds)}" if seconds else "")
        return _("Every %(duration)s") % {"duration": every}
    if rule.rule_type == "once":
        return _("Once, %(when)s") % {"when": label(rule.run_at, rule.timezone)} if rule.run_at else _("Once")
    cron = (rule.cron_expression or "").strip()
    if m := _HOURLY_RE.match(cron):
        return _("Every hour at :%(minute)s") % {"minute": f"{int(m[1]):02d}"}
    if m := _DAILY_RE.match(cron):
        return _("Every day at %(time)s") % {"time": f"{int(m[2]):02d}:{int(m[1]):02d}"}
    if m := _WEEKLY_RE.match(cron):
        names = dict(WEEKDAYS)
        days = _(", ").join(str(names[d]) for d, _name in WEEKDAYS if d in m[3].split(","))
        return _("Every %(days)s at %(time)s") % {"days": days, "time": f"{int(m[2]):02d}:{int(m[1]):02d}"}
    return _("Cron %(rule)s") % {"rule": cron}


def label(moment: datetime | None, zone_name: str) -> str:
    """``Mon 7 Dec 2026, 02:30 CET``: a run time as the schedule's zone reads it."""
    if moment is None:
        return "–"
    try:
        local = moment.astimezone(ZoneInfo(zone_name))
    except (KeyError, ValueError):
        local = moment.astimezone(ZoneInfo("UTC"))
    # A date format of the reader's language (Django's date codes; its
    # catalogs name the weekday and month), then the zone's abbreviation.
    # Translators: a date format for Django's date filter, e.g. "Mon 7 Dec 2026, 02:30".
    when = date_format(local, _("D j M Y, H:i"))
    return f"{when} {local.tzname()}"


def preview(post, *, count: int = 5) -> dict:
    """The next ``count`` runs of the rule the form describes:
    ``{"next_runs": [{"at", "label"}], "timezone", "rule"}``; raises
    ValidationFailed for a rule that is not one."""
    fields = rule_fields(post)
    rule = ScheduleRule(rule_type=fields["rule_type"], cron_expression=fields["cron_expression"],
                        interval_seconds=fields["interval_seconds"], run_at=fields["run_at"],
                        timezone=fields["timezone_name"], created_at=timezone.now())
    runs = services.next_runs(rule, after=timezone.now(), count=count)
    return {"timezone": rule.timezone, "rule": describe(rule),
            "next_runs": [{"at": r.isoformat(), "label": label(r, rule.timezone)} for r in runs]}


def job_template(post) -> dict:
    """The job a schedule submits, from the form's fields (checked by the service)."""
    destination = None
    if post.get("destination_remote", "").strip() and post.get("type") != "delete":
        destination = {"remote": post["destination_remote"].strip(), "path": post.get("destination_path") or "/"}
    options = {key: True for key in ("dry_run", "checksum", "verbose") if post.get(key)}
    template = {"type": post.get("type", ""),
                "source": {"remote": post.get("source_remote", "").strip(), "path": post.get("source_path") or "/"},
                "destination": destination, "options": options}
    return template
