"""This process's counts for its per-minute samples (ops.sampler): answers,
5xx answers, response times, messages posted and open sockets since the
last sample. Updated from request threads and the socket's event loop, so
under one lock; each update is a few integer operations."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# Response times kept per minute for the p95; past this, a uniform sample
# (reservoir) of them, so a busy minute costs bounded memory.
RESERVOIR = 2000


@dataclass
class Window:
    requests: int = 0
    errors: int = 0
    messages: int = 0
    durations: list[float] = field(default_factory=list)


_lock = threading.Lock()
_window = Window()
_sockets = 0
# (UTC day, user id) of the authenticated requests since the last sample: the
# sampler adds them to that day's Redis set, which the daily statistics read
# ("active users": an API request counts). One set insert here per request,
# one Redis round trip per process a minute.
_active: set[tuple[str, str]] = set()


def request_done(duration: float, status: int) -> None:
    with _lock:
        _window.requests += 1
        if status >= 500:
            _window.errors += 1
        if len(_window.durations) < RESERVOIR:
            _window.durations.append(duration)
        else:
            slot = random.randrange(_window.requests)
            if slot < RESERVOIR:
                _window.durations[slot] = duration


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


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
