"""Run one job's rclone command and report what happens.

The runner knows nothing of Celery or the database: ``jobs.execution`` gives
it the argument list (``jobs.command``; never a shell), the per-run config
(``jobs.rclone.RunDir``) and callbacks. It starts rclone in a clean
environment, turns its JSON log into stats and log lines (with a first line
naming the command and a last one summing the run up), and stops it when its
``check`` says so (SIGTERM, then SIGKILL after ``JOBS_CANCEL_GRACE_MS``; at
once when another run took the job over). rclone never outlives the runner:
any exception stops it first, and the kernel kills it if the thread that
started it dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from django.conf import settings
from django.utils import timezone, translation

from jobs import figures

# rclone's exit codes (docs: "Exit code").
EXIT_MEANINGS = {
    1: "error",
    2: "syntax or usage error",
    3: "directory not found",
    4: "file not found",
    5: "temporary error",
    6: "less serious error",
    7: "fatal error",
    8: "transfer limit exceeded",
    9: "no files transferred",
    10: "duration exceeded",
}
FATAL_EXIT_CODES = {2, 3, 4, 7}
TEMPORARY_EXIT_CODES = {5}
# Exit code 1 with one of these in the error log is a network failure: temporary.
NETWORK_ERROR_RE = re.compile(
    r"connection refused|connection reset|no such host|i/o timeout|timeout awaiting|network is unreachable|"
    r"TLS handshake timeout|broken pipe|EOF|server misbehaving|temporary failure in name resolution|"
    r"503 Service Unavailable|502 Bad Gateway|504 Gateway Timeout",
    re.IGNORECASE,
)
# rclone log levels -> the seed's job_logs levels.
LEVELS = {
    "debug": "debug",
    "info": "info",
    "notice": "info",
    "warning": "warning",
    "error": "error",
    "critical": "fatal",
    "alert": "fatal",
    "emergency": "fatal",
}
MAX_LOG_LINES = 2000  # per run; the rest is counted, not stored
MAX_LINE_LENGTH = 4000


# --------------------------------------------------------------------------- run


@dataclass
class Outcome:
    exit_code: int | None
    stopped: str = ""  # one of STOP_REASONS when the runner stopped rclone
    stats: dict = field(default_factory=dict)
    error: str = ""
    temporary: bool = False
    duration: float = 0.0  # seconds rclone ran

    @property
    def cancelled(self) -> bool:
        return self.stopped == CANCEL

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.stopped


class LineReader:
    """Complete lines from a pipe, read in chunks without blocking longer
    than the timeout. A line longer than MAX_READ_LINE is cut there."""

    MAX_READ_LINE = 1 << 20
    # At most one read per this interval: a wake-up per log line (rclone -v
    # writes one per file) costs rclone CPU time, and the pipe's 64 KB buffer
    # lasts far longer. Sparse output (a stats line a second, the exit) is
    # read as soon as it comes.
    GATHER_SECONDS = 0.02

    def __init__(self, pipe):
        self.pipe = pipe
        self.fd = pipe.fileno()
        os.set_blocking(self.fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)
        self.buffer = b""
        self.eof = False
        self.last_read = 0.0

    def read(self, timeout: float) -> list[str]:
        if self.eof:
            return []
        wait = self.last_read + self.GATHER_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            timeout = max(0.0, timeout - wait)
        if not self.selector.select(timeout):
            return []
        self.last_read = time.monotonic()
        chunk = b""
        try:
            while len(chunk) < self.MAX_READ_LINE:
                part = os.read(self.fd, 1 << 16)
                if not part:
                    break
                chunk += part
        except BlockingIOError:
            pass
        if not chunk:
            self.eof = True
            rest, self.buffer = self.buffer, b""
            return [rest.decode("utf-8", "replace")] if rest else []
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > self.MAX_READ_LINE:
            complete.append(self.buffer)
            self.buffer = b""
        return [raw.decode("utf-8", "replace") for raw in complete]

    def close(self) -> None:
        self.selector.close()
        self.pipe.close()


class Redactor:
    """Replaces every secret a run could leak with ``***``."""

    def __init__(self, secrets: list[str]):
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def value(self, value):
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def summarize_stats(stats: dict) -> dict:
    """rclone's stats block as the API's stats object, plus the current files."""
    total_bytes = stats.get("totalBytes") or 0
    return {
        "bytes": stats.get("bytes", 0),
        "total_bytes": total_bytes,
        "speed": stats.get("speed", 0),
        "eta": stats.get("eta"),
        "transfers": stats.get("transfers", 0),
        "total_transfers": stats.get("totalTransfers", 0),
        "errors": stats.get("errors", 0),
        "checks": stats.get("checks", 0),
        "deletes": stats.get("deletes", 0),
        "elapsed": stats.get("elapsedTime", 0),
        "transferring": [
            {"name": t.get("name"), "bytes": t.get("bytes"), "size": t.get("size"), "percentage": t.get("percentage")}
            for t in (stats.get("transferring") or [])[:20]
        ],
    }


def progress_of(stats: dict) -> int:
    total = stats.get("totalBytes") or 0
    if total:
        return max(0, min(99, int(stats.get("bytes", 0) * 100 // total)))
    transfers = stats.get("totalTransfers") or 0
    if transfers:
        return max(0, min(99, int(stats.get("transfers", 0) * 100 // transfers)))
    return 0


try:
    _prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except OSError:  # pragma: no cover - not glibc Linux
    _prctl = None
_PR_SET_PDEATHSIG = 1


def _parent_death_signal(parent_pid: int) -> Callable[[], None]:
    """The child's step before exec: the kernel sends it SIGKILL when the
    thread that started it dies (the signal follows the creating thread, not
    the process: the runner's thread, which waits for rclone to the end; in
    Celery's prefork pool, the pool process, which Celery in turn makes die
    with the worker). libc is looked up before the fork: the child of a
    threaded process must not take the loader's locks."""

    def preexec():
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)  # the runner died before the signal was armed

    return preexec


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """rclone, started as the runner's child: stderr piped, nothing else
    inherited, its own session (a signal meant for the worker's group does
    not reach it; its stop is the runner's to decide)."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        close_fds=True,
        start_new_session=True,
        preexec_fn=_parent_death_signal(os.getpid()),
    )


def storable(text: str) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogate (rclone's JSON can
    carry both, from a file name on a remote that allows them)."""
    text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def parse_line(raw: str, redact: Redactor) -> tuple[dict | None, dict | None]:
    """One stderr line -> (stats or None, log entry or None). A line about
    one file names it, as rclone's own text log does (``a.txt: Copied (new)``)."""
    raw = raw.rstrip("\n")
    if not raw.strip():
        return None, None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return None, _entry("error", raw, None, redact)
    if isinstance(data.get("stats"), dict):
        return data["stats"], None
    # "skipped" is what a dry run would have done to the object (copy,
    # delete, move, ...): the job page's preview groups the lines by it.
    details = {k: data[k] for k in ("object", "size", "skipped") if k in data}
    message = str(data.get("msg", ""))
    if details.get("object") not in (None, "") and not message.startswith(f"{details['object']}:"):
        message = f"{details['object']}: {message}"
    return None, _entry(LEVELS.get(str(data.get("level", "info")).lower(), "info"), message, details or None, redact)


def _entry(level: str, message: str, details: dict | None, redact: Redactor) -> dict:
    """A log line as stored: redacted, storable, and stamped when it was seen
    (it may be stored later: the database can be away for a while)."""
    details = json.loads(storable(json.dumps(redact.value(details)))) if details else None
    return {"level": level, "message": storable(redact(message[:MAX_LINE_LENGTH])), "details": details,
            "at": timezone.now()}


# --------------------------------------------------------------------------- start and end lines

# Stop reasons a run's ``check`` may give.
CANCEL = "cancel"
SUPERSEDED = "superseded"  # another run holds the job now: kill at once
GIVE_UP = "give_up"  # the runner cannot report (database away too long)
STOP_REASONS = (CANCEL, SUPERSEDED, GIVE_UP)


def command_shape(argv: list[str]) -> list[str]:
    """The argument list as the log shows it: the binary as ``rclone``, the
    per-run config file left out (it holds the remotes' secrets; the command
    names only remotes and paths), the filter file by name."""
    shape, args = ["rclone"], iter(argv[1:])
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif arg == "--filter-from":
            next(args, None)
            shape += [arg, "<filter file>"]
        else:
            shape.append(arg)
    return shape


def start_entry(argv: list[str], redact: Redactor, note: str = "") -> dict:
    shape = command_shape(argv)
    return _entry("info", f"Started{f' ({note})' if note else ''}: {shlex.join(shape)}", {"command": shape}, redact)


def summary_entry(outcome: "Outcome", redact: Redactor) -> dict:
    """The run's last line: how it ended, files, bytes, duration, average
    speed, errors (also in ``details``, as numbers)."""
    stats = outcome.stats or {}
    files, size, errors = stats.get("transfers", 0), stats.get("bytes", 0), stats.get("errors", 0)
    duration = max(outcome.duration, 0.0)
    speed = size / duration if duration > 0 else 0
    if outcome.stopped == CANCEL:
        how, level = "Cancelled", "info"
    elif outcome.stopped == GIVE_UP:
        how, level = "Stopped: the database could not be reached", "warning"
    elif outcome.stopped == SUPERSEDED:
        how, level = "Stopped: another run took the job over", "warning"
    elif outcome.exit_code == 0:
        how, level = "Completed", "info"
    else:
        how, level = f"Failed ({outcome.error or f'exit code {outcome.exit_code}'})", "error"
    # The log is stored text, written in the site's language whatever
    # language the thread that runs this last served (figures are localized).
    with translation.override(settings.LANGUAGE_CODE):
        took, size_text, speed_text = figures.duration(duration), figures.size(size), figures.speed(speed)
    parts = [f"{files} file{'s' if files != 1 else ''}", size_text, f"{speed_text} average",
             f"{errors} error{'s' if errors != 1 else ''}"]
    for key, label in (("checks", "checked"), ("deletes", "deleted")):
        if stats.get(key):
            parts.append(f"{stats[key]} {label}")
    details = {"outcome": outcome.stopped or ("completed" if outcome.exit_code == 0 else "failed"),
               "exit_code": outcome.exit_code, "files": files, "bytes": size, "duration_seconds": round(duration, 3),
               "average_bytes_per_second": round(speed), "errors": errors,
               "checks": stats.get("checks", 0), "deletes": stats.get("deletes", 0)}
    return _entry(level, f"{how} after {took}: {', '.join(parts)}", details, redact)


def run(
    argv: list[str],
    *,
    env: dict[str, str],
    redact: Redactor,
    on_progress: Callable[[int, dict], None],
    on_logs: Callable[[list[dict]], None],
    check: Callable[[], str | None],
    on_start: Callable[[int], None] | None = None,
    start_note: str = "",
    flush_interval: float = 1.0,
    poll_interval: float = 0.1,
) -> Outcome:
    """Run rclone to its end, or until ``check`` (called every
    ``poll_interval``) returns one of STOP_REASONS. ``on_progress`` is called
    at most once per ``flush_interval``; ``on_logs`` with batches of log
    lines, the first naming the command and the last summing the run up.
    Any exception stops rclone before it propagates."""
    stats: dict = {}
    pending_logs: list[dict] = [start_entry(argv, redact, start_note)]
    error_messages: deque[str] = deque(maxlen=50)
    stored = dropped = 0
    last_flush = 0.0
    dirty = False
    stopped = ""
    last_check = 0.0

    def flush(force=False):
        nonlocal last_flush, pending_logs, dirty
        now = time.monotonic()
        if not force and now - last_flush < flush_interval:
            return
        last_flush = now
        if pending_logs:
            batch, pending_logs = pending_logs, []
            on_logs(batch)
        if dirty:
            dirty = False
            on_progress(progress_of(stats), summarize_stats(stats))

    def take(line: str) -> None:
        nonlocal stats, dirty, stored, dropped
        new_stats, entry = parse_line(line, redact)
        if new_stats is not None:
            stats, dirty = new_stats, True
        if entry is not None:
            if entry["level"] in ("error", "fatal"):
                error_messages.append(entry["message"])
            if stored < MAX_LOG_LINES:
                pending_logs.append(entry)
                stored += 1
            else:
                dropped += 1

    started = time.monotonic()
    proc = start(argv, env)
    lines = None
    try:
        if on_start:
            on_start(proc.pid)
        # With the verbose option rclone writes a log line per file: read its
        # stderr in chunks, in this thread (no reader thread and queue per line),
        # so a copy of many small files leaves the CPU to rclone.
        lines = LineReader(proc.stderr)
        while not lines.eof:
            for line in lines.read(timeout=poll_interval):
                take(line)
            now = time.monotonic()
            # After EOF rclone has finished on its own: its result stands.
            if not lines.eof and now - last_check >= poll_interval:
                last_check = now
                reason = check()
                if reason:
                    stopped = reason
                    _stop(proc, at_once=reason == SUPERSEDED)
                    break
            flush()
        # After a stop: what rclone wrote before it went (it is gone, so this
        # reaches EOF without waiting).
        while not lines.eof:
            for line in lines.read(timeout=poll_interval):
                take(line)
        exit_code = proc.wait()
    finally:
        _stop(proc)  # a no-op unless an exception got here first
        if lines is not None:
            lines.close()
        else:
            proc.stderr.close()
    duration = time.monotonic() - started

    outcome = Outcome(exit_code=exit_code, stopped=stopped, stats=summarize_stats(stats) if stats else {},
                      duration=duration)
    if not stopped and exit_code != 0:
        last_error = error_messages[-1] if error_messages else ""
        meaning = EXIT_MEANINGS.get(exit_code, "error")
        outcome.error = f"rclone exited with code {exit_code} ({meaning})" + (f": {last_error}" if last_error else "")
        if exit_code in TEMPORARY_EXIT_CODES:
            outcome.temporary = True
        elif exit_code == 1 and any(NETWORK_ERROR_RE.search(m) for m in error_messages):
            outcome.temporary = True
    if dropped:
        pending_logs.append(_entry("warning", f"{dropped} further log lines were not stored.", None, redact))
    pending_logs.append(summary_entry(outcome, redact))
    dirty = bool(stats)
    flush(force=True)
    return outcome


def _stop(proc: subprocess.Popen, *, at_once: bool = False) -> None:
    """SIGTERM, then SIGKILL after the grace period (``at_once``: SIGKILL
    now); returns once it is gone."""
    if proc.poll() is not None:
        return
    try:
        if at_once:
            proc.kill()
        else:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=settings.JOBS_CANCEL_GRACE_MS / 1000)
    except subprocess.TimeoutExpired:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
