"""The per-process minute sampler: every METRICS_SAMPLE_SECONDS each web
process and each Celery worker process writes one row per metric to
system_metrics under its own server_id (host:pid), and the minute's
latencies (per view, and the fan-out's) to performance_metrics.

Started once per process (``start``): by the HTTP metrics middleware when a
web process loads its handler, and by the Celery signals in each worker
process (ops.receivers). A daemon thread; its cost is measured by
bench/ops_sampler.py.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from decimal import Decimal

import psutil
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from ops import activity, counters
from ops.models import FANOUT_LATENCY, HTTP_REQUEST_DURATION, PerformanceMetric, SystemMetric
from ops.process import server_id
from ops.services.events import event_record

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_started_pid: int | None = None  # a forked child inherits the flag but not the thread
_stop = threading.Event()


class Sampler:
    def __init__(self, kind: str):
        self.kind = kind
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # the first call only starts the measure
        self.last_net = self._net_bytes()
        self.last_at = timezone.now()

    @staticmethod
    def _net_bytes() -> int:
        io = psutil.net_io_counters()
        return (io.bytes_sent + io.bytes_recv) if io else 0

    def values(self, window: counters.Window | None = None) -> dict[str, tuple[float, dict]]:
        """{metric_name: (value, tags)} for the window since the last call
        (``window``: the counts already taken for it)."""
        now = timezone.now()
        seconds = max((now - self.last_at).total_seconds(), 1e-6)
        window = counters.take() if window is None else window
        net = self._net_bytes()
        net_rate, self.last_net, self.last_at = max(net - self.last_net, 0) / seconds, net, now
        per_minute = 60.0 / seconds
        try:
            disk = psutil.disk_usage(str(settings.MEDIA_ROOT if settings.MEDIA_ROOT.exists() else "/")).percent
        except OSError:
            disk = 0.0
        return {
            "cpu_usage": (self.process.cpu_percent(None), {"unit": "percent_of_one_core"}),
            "memory_usage": (float(self.process.memory_info().rss), {"unit": "bytes_rss"}),
            "disk_usage": (disk, {"unit": "percent", "path": "MEDIA_ROOT"}),
            "network_io": (net_rate, {"unit": "bytes_per_second", "scope": "host"}),
            "active_connections": (float(counters.sockets_open()), {"unit": "sockets"}),
            "message_rate": (window.messages * per_minute, {"unit": "per_minute"}),
            "error_rate": (window.errors * per_minute, {"unit": "5xx_per_minute", "requests": window.requests}),
            # The requests weigh this p95 against other processes' and minutes' (ops.series).
            "response_time": (counters.p95(window.durations) * 1000, {"unit": "ms_p95", "requests": window.requests}),
        }

    def sample(self) -> list[SystemMetric]:
        """Write the minute: its system_metrics rows and its
        performance_metrics rows, in one transaction (two inserts)."""
        activity.record_seen(counters.take_active())
        now, sid = timezone.now(), server_id()
        window = counters.take()
        rows = [SystemMetric(metric_name=name, metric_value=value, tags={**tags, "kind": self.kind},
                             created_at=now, server_id=sid)
                for name, (value, tags) in self.values(window).items()]
        performance = performance_rows(window, created_at=now, server=sid, kind=self.kind)
        with transaction.atomic():
            written = SystemMetric.objects.bulk_create(rows)
            if performance:
                PerformanceMetric.objects.bulk_create(performance)
        return written


def _ms(seconds: float) -> Decimal:
    # numeric(15,6): whole milliseconds up to 9 digits (11 days), 6 decimals.
    return Decimal(f"{min(seconds * 1000, 999_999_999.0):.6f}")


def _latency_row(name: str, service: str, latencies: counters.Latencies, *, created_at, tags: dict):
    durations = latencies.durations
    return PerformanceMetric(
        metric_name=name, metric_type=PerformanceMetric.Type.HISTOGRAM, service_name=service,
        value=_ms(counters.p95(durations)), unit="ms", created_at=created_at,
        tags={**tags, "count": latencies.count, "errors": latencies.errors,
              "p50": float(_ms(counters.percentile(durations, 0.5))), "max": float(_ms(latencies.peak))})


def performance_rows(window: counters.Window, *, created_at, server: str, kind: str) -> list[PerformanceMetric]:
    """One minute's performance_metrics rows: per view that answered, its
    request latency (HTTP_REQUEST_DURATION); the channel layer's fan-out
    latency if messages went out (FANOUT_LATENCY). Nothing for an idle
    minute. ``value`` is the p95 in ms; tags carry count, errors, p50, max."""
    base = {"server_id": server, "kind": kind}
    rows = [_latency_row(HTTP_REQUEST_DURATION, "http", latencies, created_at=created_at, tags={**base, "view": view})
            for view, latencies in sorted(window.views.items()) if latencies.count]
    if window.fanout.count:
        rows.append(_latency_row(FANOUT_LATENCY, "channels", window.fanout, created_at=created_at, tags=base))
    return rows


def _loop(sampler: Sampler, interval: float) -> None:
    # Recorded from this thread: the web process starts the sampler while
    # loading its handler, possibly inside the server's event loop, where
    # the database may not be used.
    event_record(event_type="process", event_name="start", data={"kind": sampler.kind, "server_id": server_id()})
    connection.close()
    while not _stop.wait(interval):
        try:
            sampler.sample()
        except DatabaseError as exc:  # the database away: skip this minute, try the next
            logger.warning("metric sample not written: %s", exc)
        except Exception:  # noqa: BLE001 - the sampler must outlive any one bad minute
            logger.exception("metric sample failed")
        finally:
            close_old_connections()
            connection.close()  # back to the pool: a minute is long to hold one


def start(kind: str) -> bool:
    """Start this process's sampler (once per process; a no-op when
    METRICS_SAMPLE_SECONDS is 0). Records the process start, and its stop at
    exit. Returns whether it started now."""
    global _started_pid
    interval = settings.METRICS_SAMPLE_SECONDS
    if not interval:
        return False
    with _lock:
        if _started_pid == os.getpid():
            return False
        _started_pid = os.getpid()
        _stop.clear()
    sampler = Sampler(kind)
    threading.Thread(target=_loop, args=(sampler, float(interval)), name="ops-sampler", daemon=True).start()
    atexit.register(stopped, kind)
    if kind == "web" and threading.current_thread() is threading.main_thread():
        _on_sigterm(kind)
    return True


def _on_sigterm(kind: str) -> None:
    """uvicorn ends on SIGTERM by restoring the handler it found and raising
    the signal again, so atexit never runs: this handler, the one it finds,
    records the stop and then does what the previous handler would have."""
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        stopped(kind)
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
            signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, handler)


def stopped(kind: str) -> None:
    """The process is ending: stop sampling and record it (once)."""
    global _started_pid
    if _started_pid != os.getpid() or _stop.is_set():
        return
    _stop.set()
    # From a thread of its own: this may run in a signal handler on a thread
    # with an event loop, where Django refuses the database.
    thread = threading.Thread(target=_record_stop, args=(kind,), name="ops-sampler-stop")
    thread.start()
    thread.join(5)


def _record_stop(kind: str) -> None:
    event_record(event_type="process", event_name="stop", data={"kind": kind, "server_id": server_id()})
    connection.close()
