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
