"""Where ops listens (connected from OpsConfig.ready): the socket's and
chat's signals for the counters, Celery's for the workers' samplers and the
maintenance runs' system events, Django's post_migrate for migrations.
Lower apps never import ops; they send, ops hears."""

from __future__ import annotations

import functools
import logging
import time

from billiard.exceptions import WorkerLostError
from celery import signals as celery_signals
from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_migrate
from prometheus_client import multiprocess

from chatroom import cursors
from chatroom.signals import message_posted
from core.errors import ValidationFailed
from ops import counters, prom, sampler
from ops.services.events import event_record
from realtime import registry
from realtime import signals as socket_signals

logger = logging.getLogger(__name__)

# The socket's own frame types; any other type is counted only if some app
# registered a handler for it, so a client cannot mint label values.
SOCKET_FRAME_TYPES = {"auth", "ping", "presence", "resume", "invalid"}
BEAT_TICK_KEY = "ops:beat:last_tick"

# Beat's maintenance tasks whose runs are system events ("beat runs of
# maintenance tasks"); the frequent ones (anchor, sweeps) are events only
# when they did something, below.
MAINTENANCE_TASKS = {
    "core.tasks.partitions_maintain", "audit.tasks.audit_verify_recent", "jobs.tasks.prune_job_logs",
    "accounts.purge_expired_sessions", "accounts.purge_expired_notifications", "orgs.tidy_expired",
    "ops.tasks.daily_stats",
}


def _frame_label(frame_type: str) -> str:
    if frame_type in SOCKET_FRAME_TYPES or registry.frame_handler(frame_type) is not None:
        return frame_type
    return "other"


def on_socket_opened(sender, **kwargs):
    prom.SOCKETS_OPEN.inc()
    counters.socket_change(+1)


def on_socket_closed(sender, **kwargs):
    prom.SOCKETS_OPEN.dec()
    counters.socket_change(-1)


@functools.lru_cache(maxsize=256)
def _frames(direction: str, frame_type: str):
    """The labelled counter, looked up once (labels() takes a lock and a dict
    lookup per call); the types are bounded, so is the cache."""
    return prom.FRAMES.labels(direction=direction, type=frame_type)


def on_frame_received(sender, frame_type: str, **kwargs):
    _frames("in", _frame_label(frame_type)).inc()


def on_frame_sent(sender, frame_type: str, **kwargs):
    _frames("out", frame_type if len(frame_type) <= 40 else "other").inc()


@functools.lru_cache(maxsize=4096)
def _stamp(cursor: str) -> float | None:
    """A cursor's message time, as a Unix time. Cached: every socket of a
    process gets the same few cursors."""
    try:
        return cursors.decode(cursor)[0].timestamp()
    except ValidationFailed:
        return None


def on_message_delivered(sender, cursor: str, **kwargs):
    _frames("out", "message.new").inc()
    stamp = _stamp(cursor)
    if stamp is not None:
        latency = max(time.time() - stamp, 0.0)
        prom.FANOUT_LATENCY.observe(latency)
        counters.fanout_done(latency)


def on_message_posted(sender, **kwargs):
    prom.MESSAGES_POSTED.inc()
    counters.message_posted()


def on_post_migrate(sender, plan=None, **kwargs):
    # Sent once per app; one event per run with the migrations it applied.
    if sender.label != "ops" or not plan:
        return
    applied = [f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards]
    reverted = [f"{m.app_label}.{m.name}" for m, backwards in plan if backwards]
    event_record(event_type="migration", event_name="migrate", data={"applied": applied, "reverted": reverted})


def _beat_task_names() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def on_task_postrun(sender=None, task=None, retval=None, state=None, **kwargs):
    name = getattr(task, "name", "") or ""
    if name in _beat_task_names():
        try:
            cache.set(BEAT_TICK_KEY, time.time(), timeout=None)
        except Exception as exc:  # noqa: BLE001 - Redis away: the dashboard shows the tick as unknown
            logger.warning("beat tick not stored: %s", exc)
    for kind, event_name, data in task_events(name, retval, state):
        event_record(event_type=kind, event_name=event_name, data=data)


def task_events(name: str, retval, state: str | None) -> list[tuple[str, str, dict]]:
    """The system events one finished task makes: (event_type, event_name, data)."""
    events = []
    if name in MAINTENANCE_TASKS:
        events.append(("maintenance", name, {"state": state, "result": retval if isinstance(retval, dict | int) else None}))
    if name == "core.tasks.partitions_maintain" and isinstance(retval, dict):
        for step in retval.get("done", []):
            action = "created" if ": create " in step else "retired"
            events.append(("partition", action, {"step": step}))
    if name in ("audit.tasks.audit_verify_recent", "audit.tasks.audit_anchor") and isinstance(retval, dict):
        if name == "audit.tasks.audit_verify_recent" or retval.get("checked"):
            events.append(("audit", "verification", {"ok": retval.get("ok"), "checked": retval.get("checked"),
                                                     "first_broken": retval.get("first_broken"), "task": name}))
        if retval.get("anchor"):
            events.append(("audit", "anchor", {"anchor": retval["anchor"]}))
    if name == "jobs.tasks.recover_stale_jobs" and isinstance(retval, int) and retval > 0:
        # Running jobs whose runner stopped beating: a worker died under them.
        events.append(("worker", "lost", {"jobs_recovered": retval}))
    return events


def on_task_failure(sender=None, exception=None, **kwargs):
    if isinstance(exception, WorkerLostError):
        event_record(event_type="worker", event_name="lost", data={"task": getattr(sender, "name", ""),
                                                                   "error": str(exception)[:500]})


def on_worker_process_init(**kwargs):
    sampler.start("worker")


def on_worker_ready(**kwargs):
    sampler.start("worker")


def on_worker_shutdown(**kwargs):
    sampler.stopped("worker")


def on_worker_process_shutdown(pid=None, **kwargs):
    sampler.stopped("worker")
    if prom.MULTIPROCESS:
        multiprocess.mark_process_dead(pid)


def connect() -> None:
    socket_signals.socket_opened.connect(on_socket_opened, dispatch_uid="ops.socket_opened")
    socket_signals.socket_closed.connect(on_socket_closed, dispatch_uid="ops.socket_closed")
    socket_signals.frame_received.connect(on_frame_received, dispatch_uid="ops.frame_received")
    socket_signals.frame_sent.connect(on_frame_sent, dispatch_uid="ops.frame_sent")
    socket_signals.message_delivered.connect(on_message_delivered, dispatch_uid="ops.message_delivered")
    message_posted.connect(on_message_posted, dispatch_uid="ops.message_posted")
    post_migrate.connect(on_post_migrate, dispatch_uid="ops.post_migrate")
    celery_signals.task_postrun.connect(on_task_postrun, dispatch_uid="ops.task_postrun", weak=False)
    celery_signals.task_failure.connect(on_task_failure, dispatch_uid="ops.task_failure", weak=False)
    celery_signals.worker_process_init.connect(on_worker_process_init, dispatch_uid="ops.wpi", weak=False)
    celery_signals.worker_ready.connect(on_worker_ready, dispatch_uid="ops.worker_ready", weak=False)
    celery_signals.worker_shutdown.connect(on_worker_shutdown, dispatch_uid="ops.worker_shutdown", weak=False)
    celery_signals.worker_process_shutdown.connect(on_worker_process_shutdown, dispatch_uid="ops.wps", weak=False)
