"""Readable figures for job pages: sizes in binary units (``200 MiB``),
speeds (``10.1 MiB/s``) and durations (``15 s``, ``1 h 2 min``).

static/js/figures.js is the same rules for the live socket updates; keep the
two in step (tests/jobs/test_figures.py runs both on the same inputs and
compares). Rounding is done as floor(x * 10 + 0.5) in both languages, so a
value never rounds one way on the server and the other in the browser
(Python's round() rounds half to even, JavaScript's toFixed does neither).

The words are the reader's language (issue 19): the unit words of durations,
"ETA", "of" and "/s" are translated (the JS reads the same msgids from the
JavaScript catalog), the decimal separator is the locale's (Django's
formats); the binary units (KiB, MiB...) are the same in every language."""

from __future__ import annotations

import math

from django.utils.formats import get_format
from django.utils.translation import gettext as _

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
DASH = "–"


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def size(value) -> str:
    """Bytes in binary units: one decimal below 100 of a unit (trailing .0
    dropped), whole numbers from 100 up."""
    n = _number(value)
    if n is None:
        return DASH
    unit = 0
    while n >= 1024 and unit < len(UNITS) - 1:
        n /= 1024
        unit += 1
    if unit == 0:
        return f"{math.floor(n + 0.5)} B"
    point = get_format("DECIMAL_SEPARATOR")
    tenths = math.floor(n * 10 + 0.5)
    if tenths >= 10240 and unit < len(UNITS) - 1:  # 1023.96 KiB shows as 1 MiB, not 1024 KiB
        return f"1 {UNITS[unit + 1]}"
    if tenths >= 1000:
        text = str(math.floor(n + 0.5))
    else:
        text = f"{tenths // 10}{point}{tenths % 10}" if tenths % 10 else str(tenths // 10)
    return f"{text} {UNITS[unit]}"


def speed(value) -> str:
    """Bytes per second."""
    return DASH if _number(value) is None else _("%(size)s/s") % {"size": size(value)}


def duration(value) -> str:
    """Seconds as the two largest units: ``45 s``, ``2 min 5 s``, ``1 h 2 min``, ``3 d 4 h``
    (tenths below 10 s: ``0.4 s``)."""
    n = _number(value)
    if n is None:
        return DASH
    if n < 10:
        # Short runs in tenths: "0.4 s" says more than "0 s".
        tenths = math.floor(n * 10 + 0.5)
        if tenths < 100:
            point = get_format("DECIMAL_SEPARATOR")
            return seconds_text(f"{tenths // 10}{point}{tenths % 10}" if tenths % 10 else str(tenths // 10))
    s = math.floor(n + 0.5)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return _pair(days_text(days), hours_text(hours) if hours else "")
    if hours:
        return _pair(hours_text(hours), minutes_text(minutes) if minutes else "")
    if minutes:
        return _pair(minutes_text(minutes), seconds_text(seconds) if seconds else "")
    return seconds_text(seconds)


# Abbreviated units, as a clock or a progress bar shows them: no plural forms.
def seconds_text(n) -> str:
    return _("%(n)s s") % {"n": n}


def minutes_text(n) -> str:
    return _("%(n)s min") % {"n": n}


def hours_text(n) -> str:
    return _("%(n)s h") % {"n": n}


def days_text(n) -> str:
    return _("%(n)s d") % {"n": n}


def _pair(big: str, small: str) -> str:
    return f"{big} {small}" if small else big


def eta(value) -> str:
    return DASH if _number(value) is None else _("ETA %(duration)s") % {"duration": duration(value)}


def count(done, total) -> str:
    """``3 of 12``, or just the count while the total is unknown."""
    done, total = _number(done), _number(total)
    done_text = str(int(done or 0))
    return _of(done_text, str(int(total))) if total else done_text


def size_of(done, total) -> str:
    """``120 MiB of 200 MiB``."""
    return _of(size(done or 0), size(total)) if _number(total) else size(done or 0)


def _of(done: str, total: str) -> str:
    return _("%(done)s of %(total)s") % {"done": done, "total": total}
