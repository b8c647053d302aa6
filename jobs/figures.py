"""Readable figures for job pages: sizes in binary units (``200 MiB``),
speeds (``10.1 MiB/s``) and durations (``15 s``, ``1 h 2 min``).

static/js/figures.js is the same rules for the live socket updates; keep the
two in step (tests/jobs/test_figures.py runs both on the same inputs and
compares). Rounding is done as floor(x * 10 + 0.5) in both languages, so a
value never rounds one way on the server and the other in the browser
(Python's round() rounds half to even, JavaScript's toFixed does neither)."""

from __future__ import annotations

import math

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
    tenths = math.floor(n * 10 + 0.5)
    if tenths >= 10240 and unit < len(UNITS) - 1:  # 1023.96 KiB shows as 1 MiB, not 1024 KiB
        return f"1 {UNITS[unit + 1]}"
    if tenths >= 1000:
        text = str(math.floor(n + 0.5))
    else:
        text = f"{tenths // 10}.{tenths % 10}" if tenths % 10 else str(tenths // 10)
    return f"{text} {UNITS[unit]}"


def speed(value) -> str:
    """Bytes per second."""
    return DASH if _number(value) is None else f"{size(value)}/s"


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
            return f"{tenths // 10}.{tenths % 10} s" if tenths % 10 else f"{tenths // 10} s"
    s = math.floor(n + 0.5)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


def eta(value) -> str:
    return DASH if _number(value) is None else f"ETA {duration(value)}"


def count(done, total) -> str:
    """``3 of 12``, or just the count while the total is unknown."""
    done, total = _number(done), _number(total)
    done_text = str(int(done or 0))
    return f"{done_text} of {int(total)}" if total else done_text


def size_of(done, total) -> str:
    """``120 MiB of 200 MiB``."""
    return f"{size(done or 0)} of {size(total)}" if _number(total) else size(done or 0)
