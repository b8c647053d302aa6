"""This process's counts for its per-minute samples (ops.sampler): answers,
5xx answers, response times (overall and per view), messages posted,
channel-layer fan-out latencies and open sockets since the last sample.
Updated from request threads and the socket's event loop, so under one
lock; each update is a few integer operations and a list append."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# Response times kept per minute for the p95; past this, a uniform sample
# (reservoir) of them, so a busy minute costs bounded memory.
RESERVOIR = 2000
# Per view (performance_metrics): less each, there are many views.
VIEW_RESERVOIR = 200
# Distinct views kept per minute; the views past it share OTHER_VIEW. Route
# names are bounded by the URL conf, this bounds the rows a minute anyway.
VIEWS_MAX = 100
OTHER_VIEW = "<other>"


@dataclass
class Latencies:
    """Durations (seconds) seen in one window: how many, how many failed,
    and a reservoir of them for the percentiles."""

    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)
    peak: float = 0.0  # the true maximum (the reservoir may have dropped it)

    def add(self, duration: float, cap: int, error: bool = False) -> None:
        self.count += 1
        self.peak = max(self.peak, duration)
        if error:
            self.errors += 1
        _keep(self.durations, self.count, duration, cap)


def _keep(kept: list[float], seen: int, value: float, cap: int) -> None:
    """Reservoir sampling: ``kept`` stays a uniform sample of at most ``cap``
    of the ``seen`` values so far (``value`` being the latest)."""
    if len(kept) < cap:
        kept.append(value)
    else:
        slot = random.randrange(seen)
        if slot < cap:
            kept[slot] = value


@dataclass
class Window:
    requests: int = 0
    errors: int = 0
    messages: int = 0
    durations: list[float] = field(default_factory=list)
    views: dict[str, Latencies] = field(default_factory=dict)
    fanout: Latencies = field(default_factory=Latencies)


_lock = threading.Lock()
_window = Window()
_sockets = 0
# (UTC day, user id) of the authenticated requests since the last sample: the
# sampler adds them to that day's Redis set, which the daily statistics read
# ("active users": an API request counts). One set insert here per request,
# one Redis round trip per process a minute.
_active: set[tuple[str, str]] = set()


def request_done(duration: float, status: int, view: str = "") -> None:
    """One HTTP answer; ``view`` (the route's name, ops.middleware) also
    counts it for that view's row in performance_metrics."""
    with _lock:
        _window.requests += 1
        if status >= 500:
            _window.errors += 1
        _keep(_window.durations, _window.requests, duration, RESERVOIR)
        if view:
            views = _window.views
            latencies = views.get(view)
            if latencies is None:
                if len(views) >= VIEWS_MAX:
                    view = OTHER_VIEW
                latencies = views.setdefault(view, Latencies())
            latencies.add(duration, VIEW_RESERVOIR, status >= 500)


def fanout_done(latency: float) -> None:
    """One message sent to a socket, ``latency`` seconds after its stamp."""
    with _lock:
        _window.fanout.add(latency, RESERVOIR)


def user_seen(day: str, user_id) -> None:
    with _lock:
        _active.add((day, str(user_id)))


def take_active() -> set[tuple[str, str]]:
    global _active
    with _lock:
        seen, _active = _active, set()
    return seen


def message_posted() -> None:
    global _window
    with _lock:
        _window.messages += 1


def socket_change(delta: int) -> None:
    global _sockets
    with _lock:
        _sockets += delta


def sockets_open() -> int:
    return _sockets


def take() -> Window:
    """The counts since the last take, and start a new window."""
    global _window
    with _lock:
        window, _window = _window, Window()
    return window


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def p95(values: list[float]) -> float:
    return percentile(values, 0.95)
