"""Times as a person reads them (issue 19): in their profile's time zone,
with a date format of their language (Django's date codes; its catalogs
name the weekdays and months), and relative times in their words."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

UTC = ZoneInfo("UTC")


def zone_of(user) -> ZoneInfo:
    """The user's profile time zone (UTC without a profile or a usable zone)."""
    try:
        name = user.profile.timezone if user is not None and user.is_authenticated else "UTC"
    except Exception:  # noqa: BLE001 - no profile row yet
        name = "UTC"
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def label(moment: datetime | None, zone: ZoneInfo, *, with_zone: bool = True, year: bool = False) -> str:
    """``Mon 7 Dec, 02:30 KST`` in English; ``12月7日 周一 02:30 KST``, ``12월 7일 (월) 02:30 KST``
    (``year``: ``Mon 7 Dec 2026, 02:30 KST``)."""
    if moment is None:
        return "–"
    local = moment.astimezone(zone)
    # Translators: date formats for Django's date filter, e.g. "Mon 7 Dec, 02:30" and "Mon 7 Dec 2026, 02:30".
    when = date_format(local, _("D j M Y, H:i") if year else _("D j M, H:i"))
    return f"{when} {local.tzname()}" if with_zone else when


def ago(moment: datetime) -> str:
    """``just now``, or ``5 minutes ago`` in the reader's words."""
    if (timezone.now() - moment).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(moment, depth=1)}


def ahead(moment: datetime) -> str:
    """``in 2 hours`` in the reader's words."""
    if (moment - timezone.now()).total_seconds() < 60:
        return _("in under a minute")
    return _("in %(time)s") % {"time": timeuntil(moment, depth=1)}
