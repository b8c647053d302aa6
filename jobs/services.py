"""Every write of the jobs app. Keyword-only arguments, one transaction, the
permission check inside, one audit entry per change (and per job state
transition), side effects (Celery, broadcasts, Redis) on commit.

Job states::

    pending --(enqueue)--> queued --(claim)--> running --> completed | failed | cancelled
    pending/queued --(cancel)--> cancelled
    running --(temporary failure, retries left / stale heartbeat)--> queued
    failed/cancelled --(retry)--> queued

A job is *pending* while it waits for ``scheduled_for``, *queued* once it is
due and in the broker. The worker claims it with one conditional UPDATE, so a
duplicate delivery finds nothing to claim. The claim gives the run a token
(``run_token``); every later write of that run is conditional on it and
raises ``RunSuperseded`` once the job has been handed to another run.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from config.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, validate_model
from config.faults import OPEN, redis_policy
from core.jsonable import jsonable
from jobs import access, locks, realtime, rclone
from jobs.models import Job, Remote, RemotePermission, ScheduleRule
from jobs.runner import validate_options
from jobs.secrets import encrypt_options

logger = logging.getLogger(__name__)


def _enqueue_on_commit(job: Job, *, countdown: float | None = None) -> None:
    """Send the job's task once the transaction commits, and record when that
    task becomes deliverable (``task_due_at``): the lost-job sweep measures
    from it, so a retry's backoff or a future ``scheduled_for`` is never
    mistaken for a lost task."""
    from jobs.tasks import enqueue

    now = timezone.now()
    due = now + timedelta(seconds=countdown) if countdown else max(now, job.scheduled_for or now)
    job.task_due_at = due
    Job.objects.filter(pk=job.pk).update(task_due_at=due)
    job_id, priority, eta = job.id, job.priority, job.scheduled_for
    transaction.on_commit(lambda: enqueue(job_id, priority=priority, eta=eta, countdown=countdown))


# --------------------------------------------------------------------------- remotes


def _remote_options(remote_type: str, options, *, kept_secrets=()) -> tuple[dict, dict]:
    """The one validation of a remote's options, for create and update: the
    type's allow-list (program-running options refused), clean values, and a
    local root inside RCLONE_LOCAL_ROOTS. Returns (clear, secret)."""
    clear, secret = rclone.split_options(remote_type, options, kept_secrets=kept_secrets)
    if remote_type == "local":
        clear["root"] = access.validate_local_root(clear.get("root"))
    return clear, secret


def _has_active_jobs(remote_name: str) -> bool:
    return Job.objects.filter(
        Q(payload__source__remote=remote_name) | Q(payload__destination__remote=remote_name), status__in=Job.ACTIVE
    ).exists()


@redis_policy("remote_browse_invalidation", fails=OPEN, fallback=None,
              means="a changed remote's cached listings are not dropped; they expire after 60 s")
def _drop_browse_cache(pattern: str) -> None:
    from django.core.cache import cache

    cache.delete_pattern(pattern)


def _drop_browse_cache_on_commit(remote: Remote) -> None:
    pattern = f"cache:files:{remote.id}:*"  # selectors.remote_browse's keys
    transaction.on_commit(lambda: _drop_browse_cache(pattern))


@transaction.atomic
def remote_create(*, actor, name: str, type: str, options: dict | None = None, description: str = "") -> Remote:
    if not access.can_create_remotes(actor):
        raise PermissionDenied("Only staff and power users may create remotes.")
    access.validate_remote_name(name)
    clear, secret = _remote_options(type, options or {})
    if Remote.objects.filter(name=name).exists():
        raise Conflict("A remote with this name exists.", fields={"name": ["Taken."]})
    remote = Remote(name=name, type=type, options=clear, secret_options=encrypt_options(secret),
                    description=description or "", created_by=actor)
    validate_model(remote)
    remote.save()
    # The creator manages what they created.
    RemotePermission.objects.create(remote=remote, user=actor, permissions=["read", "write", "delete", "admin"],
                                    created_by=actor)
    audit_record(action="remote.created", actor=actor, resource_type="remote", resource_id=str(remote.id),
                 details={"name": name, "type": type, "options": clear, "secret_options": sorted(secret),
                          "creator_grant": ["read", "write", "delete", "admin"]})
    return remote


REMOTE_UPDATE_FIELDS = ("name", "options", "description", "is_active", "remove_secrets")


@transaction.atomic
def remote_update(*, actor, remote: Remote, name: str | None = None, options: dict | None = None,
                  description: str | None = None, is_active: bool | None = None,
                  remove_secrets: list | None = None) -> Remote:
    """Change a remote; ``None`` leaves a field as it is. The type is fixed
    (other options belong to another type: make a new remote).

    ``options`` replaces the non-secret options (as at create, so a client
    sends back what it read), with the same validation as create. Secret
    options are never read back, so an omitted or blank secret keeps its
    stored value; ``remove_secrets`` names the ones to drop. Renaming or
    deactivating is refused while jobs use the remote (their payloads and
    slot locks name it); a rename carries over to schedule templates.
    Only staff and power users who administer the remote may do this, as
    for creating one (options decide what the remote reaches)."""
    from jobs.secrets import decrypt_options

    remote = Remote.objects.select_for_update().filter(pk=remote.pk).first()
    if remote is None:
        raise NotFound("No such remote.")
    if not access.can_edit_remote(actor, access.access_for(actor, remote)):
        raise PermissionDenied("Only staff and power users who administer this remote may change it.")
    backend = rclone.BACKENDS[remote.type]
    stored = decrypt_options(remote.secret_options)

    if remove_secrets is not None and (
        not isinstance(remove_secrets, list)
        or any(not isinstance(k, str) or k not in backend.secrets for k in remove_secrets)
    ):
        raise ValidationFailed(fields={"remove_secrets": [
            f"A list from {', '.join(sorted(backend.secrets)) or '(none: this type has no secrets)'}."]})
    removed = sorted(set(remove_secrets or ()) & set(stored))
    kept = {k: v for k, v in stored.items() if k not in removed}
    clear, given = dict(remote.options), {}
    if options is not None or removed:
        clear, given = _remote_options(remote.type, remote.options if options is None else options,
                                       kept_secrets=kept)
        both = sorted(set(given) & set(remove_secrets or ()))
        if both:
            raise ValidationFailed(fields={f"options.{k}": ["Both set and removed."] for k in both})
    if description is not None and not isinstance(description, str):
        raise ValidationFailed(fields={"description": ["Must be a string."]})
    if is_active is not None and not isinstance(is_active, bool):
        raise ValidationFailed(fields={"is_active": ["Must be true or false."]})

    changed = {}
    old_name = remote.name
    if name is not None and name != old_name:
        access.validate_remote_name(name, field_name="name")
        if Remote.objects.filter(name=name).exclude(pk=remote.pk).exists():
            raise Conflict("A remote with this name exists.", fields={"name": ["Taken."]})
        changed["name"] = {"from": old_name, "to": name}
    if description is not None and description != remote.description:
        changed["description"] = {"from": remote.description, "to": description}
    if is_active is not None and is_active != remote.is_active:
        changed["is_active"] = {"from": remote.is_active, "to": is_active}
    if ("name" in changed or is_active is False and "is_active" in changed) and _has_active_jobs(old_name):
        raise Conflict("The remote has active jobs: wait for them or cancel them first.")
    options_changed = sorted(k for k in set(clear) | set(remote.options) if clear.get(k) != remote.options.get(k))
    secrets_changed = sorted(k for k in given if stored.get(k) != given[k])
    if not (changed or options_changed or secrets_changed or removed):
        return remote  # nothing to change: no write, no audit entry

    before_options = {k: remote.options.get(k) for k in options_changed}
    remote.name = name if "name" in changed else remote.name
    remote.description = description if "description" in changed else remote.description
    remote.is_active = is_active if "is_active" in changed else remote.is_active
    remote.options = clear
    if secrets_changed or removed:
        remote.secret_options = encrypt_options({**kept, **given})
    validate_model(remote, exclude=["created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            remote.save()
    except IntegrityError as exc:  # a concurrent create took the name
        raise Conflict("A remote with this name exists.", fields={"name": ["Taken."]}) from exc

    renamed_in = []
    if "name" in changed:
        sides = Q(job_template__source__remote=old_name) | Q(job_template__destination__remote=old_name)
        for rule in ScheduleRule.objects.select_for_update().filter(sides):
            template = dict(rule.job_template)
            for side in ("source", "destination"):
                if isinstance(template.get(side), dict) and template[side].get("remote") == old_name:
                    template[side] = {**template[side], "remote": remote.name}
            rule.job_template = template
            rule.save(update_fields=["job_template", "updated_at"])
            renamed_in.append(str(rule.id))
    if options_changed or secrets_changed or removed:
        _drop_browse_cache_on_commit(remote)
    # Option names and clear values only: secret values never reach the audit trail.
    audit_record(action="remote.updated", actor=actor, resource_type="remote", resource_id=str(remote.id),
                 details={"name": remote.name, "changed": changed, "options_changed": options_changed,
                          "options_before": before_options,
                          "options_after": {k: clear.get(k) for k in options_changed},
                          "secret_options_changed": secrets_changed, "secret_options_removed": removed,
                          "schedules_updated": renamed_in})
    return remote


@transaction.atomic
def remote_delete(*, actor, remote: Remote) -> None:
    if not access.access_for(actor, remote).is_admin:
        raise PermissionDenied("You do not administer this remote.")
    if _has_active_jobs(remote.name):
        raise Conflict("The remote has active jobs.")
    remote_id, name = str(remote.id), remote.name
    remote.delete()
    audit_record(action="remote.deleted", actor=actor, resource_type="remote", resource_id=remote_id,
                 details={"name": name})


# --------------------------------------------------------------------------- permissions


@transaction.atomic
def permission_grant(
    *, actor, remote: Remote, user=None, role=None, department=None, permissions: list, path_rules: list | None = None
) -> RemotePermission:
    """Create or replace the grant for one grantee (a user, an org role or a
    department) on a remote. Needs ``admin`` on the remote."""
    if not access.access_for(actor, remote).is_admin:
        raise PermissionDenied("You do not administer this remote.")
    if sum(x is not None for x in (user, role, department)) != 1:
        raise ValidationFailed(fields={"user_id": ["Give exactly one of user_id, role_id, department_id."]})
    perms = access.validate_permissions(permissions)
    rules = access.validate_path_rules(path_rules)
    grantee = {"user": user} if user is not None else {"role": role} if role is not None else {"department": department}
    grant = RemotePermission.objects.select_for_update().filter(remote=remote, **grantee).first()
    before = None
    if grant is None:
        grant = RemotePermission(remote=remote, created_by=actor, **grantee)
    else:
        before = {"permissions": grant.permissions, "path_rules": grant.path_rules}
    grant.permissions, grant.path_rules, grant.is_active = perms, rules, True
    grant.save()
    audit_record(
        action="remote.permission.granted", actor=actor, resource_type="remote_permission", resource_id=str(grant.id),
        details={"remote": remote.name, **{k: str(v.pk) for k, v in grantee.items()},
                 "before": before, "after": {"permissions": perms, "path_rules": rules}},
    )
    return grant


@transaction.atomic
def permission_revoke(*, actor, grant: RemotePermission) -> None:
    """Remove a grant. Who may grant may revoke: ``admin`` on the remote.
    Takes effect at once: the next submit is refused, and a job already
    queued is refused when it runs (access is checked again then)."""
    grant = RemotePermission.objects.select_for_update().select_related("remote").filter(pk=grant.pk).first()
    if grant is None:
        raise NotFound("No such grant.")  # revoked meanwhile
    if not access.access_for(actor, grant.remote).is_admin:
        raise PermissionDenied("You do not administer this remote.")
    grant_id = str(grant.id)
    details = {"remote": grant.remote.name, "permissions": grant.permissions, "path_rules": grant.path_rules,
               **{f"{k}_id": str(getattr(grant, f"{k}_id")) for k in ("user", "role", "department")
                  if getattr(grant, f"{k}_id")}}
    grant.delete()
    audit_record(action="remote.permission.revoked", actor=actor, resource_type="remote_permission",
                 resource_id=grant_id, details=details)


# --------------------------------------------------------------------------- jobs


def backup_folder_name(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H%M%SZ")


@transaction.atomic
def job_submit(
    *,
    actor,
    type: str,
    source: dict,
    destination: dict | None = None,
    priority: int = 5,
    scheduled_for: datetime | None = None,
    options: dict | None = None,
    max_retries: int | None = None,
    schedule: ScheduleRule | None = None,
    schedule_run_at: datetime | None = None,
) -> Job:
    src, dst = access.check_job(actor, type, source, destination)
    opts = validate_options(options)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 10:
        raise ValidationFailed(fields={"priority": ["A whole number from 1 to 10."]})
    if scheduled_for is not None and timezone.is_naive(scheduled_for):
        raise ValidationFailed(fields={"scheduled_for": ["Give a time zone."]})
    now = timezone.now()
    payload = {
        "source": {"remote": src.remote.name, "path": src.path},
        "destination": {"remote": dst.remote.name, "path": dst.path} if dst else None,
        "options": opts,
    }
    if type == "backup":
        # A copy into a dated folder under the destination, named once at
        # submit so retries write to the same folder.
        payload["backup_folder"] = backup_folder_name(schedule_run_at or scheduled_for or now)
    waiting = scheduled_for is not None and scheduled_for > now
    job = Job(
        user=actor, type=type, priority=priority, payload=payload, scheduled_for=scheduled_for,
        max_retries=settings.JOBS_DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
        status=Job.Status.PENDING if waiting else Job.Status.QUEUED,
        schedule=schedule, schedule_run_at=schedule_run_at,
    )
    # Constraints are the database's (the schedule-run uniqueness must surface as a Conflict).
    validate_model(job, exclude=["user", "schedule"], validate_constraints=False)
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError as exc:
        raise Conflict("This schedule run already has its job.") from exc
    audit_record(action="job.created", actor=actor, resource_type="job", resource_id=str(job.id),
                 details={"type": type, "status": job.status, "payload": payload, "priority": priority,
                          "schedule_id": str(schedule.id) if schedule else None})
    _enqueue_on_commit(job)
    realtime.job_progress(job)
    return job


def _locked_job(job_id) -> Job:
    job = Job.objects.select_for_update().filter(id=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def _can_manage(actor, job: Job) -> bool:
    return job.user_id == actor.pk or access.is_superuser(actor)


@transaction.atomic
def job_cancel(*, actor, job: Job) -> Job:
    """A pending or queued job is cancelled at once and never starts. A
    running one is signalled (a Redis flag its runner polls, and
    ``cancel_requested_at``, which its heartbeat reads, for when Redis is
    away); the runner stops rclone (SIGTERM, then SIGKILL) and only then
    records ``cancelled``, so the status never says cancelled while an rclone
    still copies. A running job whose runner is gone (stale heartbeat: no
    rclone of it can run) is cancelled at once."""
    job = _locked_job(job.id)
    if not _can_manage(actor, job):
        raise NotFound("No such job.")
    now = timezone.now()
    if job.status in Job.STARTABLE:
        previous = job.status
        job.status, job.cancelled_at, job.completed_at = Job.Status.CANCELLED, now, None
        job.save(update_fields=["status", "cancelled_at", "completed_at"])
        audit_record(action="job.cancelled", actor=actor, resource_type="job", resource_id=str(job.id),
                     details={"from": previous})
        realtime.job_progress(job)
    elif job.status == Job.Status.RUNNING:
        if job.cancel_requested_at is None:
            job.cancel_requested_at = now
            job.save(update_fields=["cancel_requested_at"])
            audit_record(action="job.cancel_requested", actor=actor, resource_type="job", resource_id=str(job.id))
        if Job.objects.runner_gone().filter(pk=job.pk).exists():
            return _recover(job)
        job_id = job.id
        transaction.on_commit(lambda: locks.request_cancel(job_id))
    else:
        raise Conflict(f"A {job.status} job cannot be cancelled.")
    return job


@transaction.atomic
def job_retry(*, actor, job: Job) -> Job:
    """Run a failed or cancelled job again (a fresh retry budget)."""
    job = _locked_job(job.id)
    if not _can_manage(actor, job):
        raise NotFound("No such job.")
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise Conflict(f"A {job.status} job cannot be retried.")
    access.check_job(job.user, job.type, job.source, job.destination)
    previous = job.status
    job.status, job.error, job.progress, job.retry_count = Job.Status.QUEUED, "", 0, 0
    job.started_at = job.completed_at = job.cancelled_at = job.cancel_requested_at = None
    job.scheduled_for, job.worker, job.heartbeat_at, job.run_token = None, "", None, None
    job.save()
    audit_record(action="job.retried", actor=actor, resource_type="job", resource_id=str(job.id),
                 details={"from": previous})
    job_id = job.id
    transaction.on_commit(lambda: locks.clear_cancel(job_id))
    _enqueue_on_commit(job)
    realtime.job_progress(job)
    return job


# ---- worker-side transitions (actor: the system)


class RunSuperseded(Exception):
    """A runner's write was refused: its run token is no longer the job's
    (the job was recovered from a stale heartbeat and may run elsewhere)."""


@transaction.atomic
def job_claim(*, job_id, worker: str, run_token: uuid.UUID | None = None) -> Job | None:
    """Take a due pending/queued job for this worker, or None when another
    delivery already took it (or it was cancelled). One UPDATE ... WHERE
    status IN (pending, queued) RETURNING: exactly one claimant wins. The
    run gets ``run_token`` (a new one if not given); the returned job carries
    it, and the first heartbeat is the claim's, on the database's clock."""
    now = timezone.now()
    rows = list(
        Job.objects.raw(
            "UPDATE jobs SET status = 'running', started_at = %s, worker = %s, heartbeat_at = now(), "
            "run_token = %s, cancel_requested_at = NULL, progress = 0 "
            "WHERE id = %s AND status IN ('pending', 'queued') AND (scheduled_for IS NULL OR scheduled_for <= %s) "
            "RETURNING *",
            [now, worker[:255], run_token or uuid.uuid4(), job_id, now],
        )
    )
    if not rows:
        return None
    job = rows[0]
    audit_record(action="job.started", actor=None, resource_type="job", resource_id=str(job.id),
                 details={"worker": worker, "attempt": job.retry_count + 1})
    realtime.job_progress(job)
    return job


_HEARTBEAT_SQL = """
UPDATE jobs SET heartbeat_at = now() {progress}
WHERE id = %s AND run_token = %s AND status = 'running'
RETURNING cancel_requested_at IS NOT NULL
"""


@transaction.atomic
def job_heartbeat(*, job: Job, run_token, progress: int | None = None, stats: dict | None = None) -> bool:
    """The runner's sign of life (on the database's clock), with its latest
    progress when it has one (broadcast live; not a state change: no audit
    entry). Returns whether a cancel was asked for (the runner's way to learn
    of it when Redis is away). Raises RunSuperseded if the run lost the job."""
    params: list = []
    sets = ""
    if progress is not None:
        sets, params = ", progress = %s, result = %s::jsonb", [progress, json.dumps(stats)]
    with connection.cursor() as cursor:
        cursor.execute(_HEARTBEAT_SQL.format(progress=sets), [*params, job.id, run_token])
        row = cursor.fetchone()
    if row is None:
        raise RunSuperseded(str(job.id))
    if progress is not None:
        job.progress, job.result = progress, stats
        realtime.job_progress(job)
    return bool(row[0])


# The fence: with a run token, lines are stored only while the run holds the job.
_LOG_INSERT_SQL = """
INSERT INTO job_logs (created_at, job_id, level, message, details)
SELECT t.created_at, %s, level, message, details
FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[]::jsonb[])
    WITH ORDINALITY AS t(created_at, level, message, details, n)
WHERE %s::uuid IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = %s AND run_token = %s::uuid)
ORDER BY n
RETURNING id
"""


def job_logs_append(*, job: Job, entries: list[dict], run_token=None) -> None:
    """Store a batch of log lines and broadcast them. One statement with the
    lines as arrays: rclone logs a line per file, and the ORM's bulk insert
    spent more CPU per batch than the lines are worth (time rclone needs).
    Each line keeps the time it was seen (``at``; it may be stored after an
    outage). With ``run_token`` (the runner's), raises RunSuperseded instead
    of storing lines for a job another run holds."""
    from jobs.presenters import log_line_dict

    if not entries:
        return
    now = timezone.now()
    times = [e.get("at") or now for e in entries]
    levels = [e["level"] for e in entries]
    messages = [e["message"] for e in entries]
    details = [json.dumps(e["details"]) if e.get("details") is not None else None for e in entries]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LOG_INSERT_SQL, [job.id, times, levels, messages, details, run_token, job.id, run_token])
        # Ids come from the sequence in insertion order (ORDER BY n).
        ids = sorted(row[0] for row in cursor.fetchall())
        if not ids:
            raise RunSuperseded(str(job.id))
        # With their ids, as the API lists them, so a page that also reads the
        # API after a reconnect can tell which lines it already shows.
        realtime.job_log(job, [
            log_line_dict(id=i, level=e["level"], message=e["message"], details=e.get("details"), created_at=at)
            for i, e, at in zip(ids, entries, times)])


@transaction.atomic
def job_finish(*, job: Job, ok: bool, cancelled: bool = False, stats: dict | None = None, error: str = "",
               temporary: bool = False, run_token=None) -> Job:
    """Record how a run ended: completed, cancelled, retried later (a
    temporary failure with retries left) or failed. With ``run_token`` (the
    runner's) nothing changes unless the run still holds the job; without
    one, a running job is finished whoever runs it. Idempotent: a job no
    longer running (finished already, or recovered) is returned as it is."""
    job = _locked_job(job.id)
    if job.status != Job.Status.RUNNING or (run_token is not None and job.run_token != run_token):
        return job  # recovered or finished by someone else meanwhile
    now = timezone.now()
    if stats:
        job.result = stats
    countdown = None
    job.run_token = None
    if cancelled:
        job.status, job.cancelled_at = Job.Status.CANCELLED, now
        action, level, details = "job.cancelled", "info", {"from": "running"}
    elif ok:
        job.status, job.completed_at, job.progress, job.error = Job.Status.COMPLETED, now, 100, ""
        action, level, details = "job.completed", "info", {"stats": _audit_stats(stats)}
    elif temporary and job.retry_count < job.max_retries:
        countdown = settings.JOBS_RETRY_BASE_SECONDS * (2 ** job.retry_count)
        job.status, job.error, job.retry_count = Job.Status.QUEUED, error, job.retry_count + 1
        job.started_at, job.worker, job.heartbeat_at = None, "", None
        action, level, details = "job.retry_scheduled", "warning", {"error": error, "retry_count": job.retry_count,
                                                                   "countdown": countdown}
    else:
        job.status, job.completed_at, job.error = Job.Status.FAILED, now, error or "Failed."
        action, level, details = "job.failed", "error", {"error": job.error, "temporary": temporary}
    job.save()
    audit_record(action=action, actor=None, resource_type="job", resource_id=str(job.id), level=level,
                 result="success" if job.status != Job.Status.FAILED else "failure", details=details)
    if countdown is not None:
        _enqueue_on_commit(job, countdown=countdown)
    _notify_owner(job)
    job_id, status, job_type = job.id, job.status, job.type
    transaction.on_commit(lambda: _after_finish(job_id, status, job_type))
    realtime.job_progress(job)
    return job


def _audit_stats(stats):
    if not stats:
        return None
    return {k: stats.get(k) for k in ("bytes", "transfers", "errors", "checks", "deletes")}


def _notify_owner(job: Job) -> None:
    """job_finished / job_failed to the owner, in the transaction that sets
    the final status (so a rollback takes the notification with it). A
    cancel, or a retry still to come, is not an outcome to report."""
    from accounts import notifications

    if job.status == Job.Status.COMPLETED:
        kind, title, priority = notifications.Type.JOB_FINISHED, f"{job.get_type_display()} job finished", "normal"
    elif job.status == Job.Status.FAILED:
        kind, title, priority = notifications.Type.JOB_FAILED, f"{job.get_type_display()} job failed", "high"
    else:
        return
    ends = [(job.payload or {}).get(end) for end in ("source", "destination")]
    where = " → ".join(f"{e.get('remote')}:{e.get('path')}" for e in ends if isinstance(e, dict))
    notifications.notify(
        user=job.user, type=kind, title=title, priority=priority,
        message=f"{where}\n{job.error}".strip() if job.status == Job.Status.FAILED else where,
        data={"job_id": str(job.id), "job_type": job.type, "status": job.status, "error": job.error or None,
              "url": reverse("jobs:detail", args=[job.id])},
    )


def _after_finish(job_id, status, job_type) -> None:
    locks.clear_cancel(job_id)
    if status == Job.Status.COMPLETED:
        locks.count("completed")
    elif status == Job.Status.FAILED:
        locks.count("failed")
        locks.count("errors", kind=f"job_{job_type}")


@transaction.atomic
def job_recover_stale(*, stale_after: timedelta | None = None) -> list[Job]:
    """Beat task body (every JOBS_STALE_SWEEP_SECONDS): running jobs whose
    runner is gone (``Job.objects.runner_gone``) are retried while retries
    are left, else failed; cancelled if a cancel was asked for. Never left
    running."""
    return [_recover(job) for job in Job.objects.select_for_update(skip_locked=True).runner_gone(stale_after)]


def _recover(job: Job) -> Job:
    """End the run of a (locked) job whose runner is gone: its token is
    cleared, so that runner, should it still write, is refused; the slots it
    held are freed for the retry."""
    error = f"The worker {job.worker or '?'} stopped sending heartbeats."
    if job.cancel_requested_at is not None:
        # Its owner asked to stop it: the runner's death finished the job.
        job.status, job.cancelled_at = Job.Status.CANCELLED, timezone.now()
        action = "job.cancelled"
    elif job.retry_count < job.max_retries:
        job.status, job.retry_count, job.error = Job.Status.QUEUED, job.retry_count + 1, error
        job.started_at, job.worker, job.heartbeat_at = None, "", None
        action = "job.recovered"
        _enqueue_on_commit(job)
    else:
        job.status, job.completed_at, job.error = Job.Status.FAILED, timezone.now(), error
        action = "job.failed"
    token, names = job.run_token, [n for n in (job.source.get("remote"), (job.destination or {}).get("remote")) if n]
    job.run_token = None
    job.save()
    if token is not None:
        transaction.on_commit(lambda: locks.release_run(names, token.hex))
    _notify_owner(job)
    audit_record(action=action, actor=None, resource_type="job", resource_id=str(job.id), level="warning",
                 result="failure" if job.status == Job.Status.FAILED else "success",
                 details={"error": error, "retry_count": job.retry_count})
    realtime.job_progress(job)
    return job


def job_redispatch(*, job: Job, countdown: float | None = None) -> None:
    """The worker sends a job's task again without a state change: its remote
    was busy (``countdown``), or it was delivered before ``scheduled_for``.
    Not audited (no transition); it moves ``task_due_at`` so the lost-job
    sweep knows the job still has a live task."""
    with transaction.atomic():
        _enqueue_on_commit(job, countdown=countdown)


@transaction.atomic
def job_requeue_lost(*, lost_after: timedelta | None = None, actor=None, job_ids=None, limit: int = 500) -> list[Job]:
    """Beat task body (and the admin's "re-enqueue" action): a due pending or
    queued job whose task should have been delivered more than ``lost_after``
    ago and that nobody claimed lost its task (broker flushed, or a worker
    took it and died before claiming). Send it again.

    Safe even when the original task is still somewhere: the worker claims
    the job with one conditional UPDATE (``job_claim``), so whichever
    delivery comes second finds nothing to claim. The cost of a false alarm
    (a long broker backlog) is one extra delivery that returns at once.
    """
    if actor is not None and not access.is_superuser(actor):
        raise PermissionDenied("Only staff may re-enqueue jobs.")
    lost_after = timedelta(seconds=settings.JOBS_LOST_QUEUED_SECONDS) if lost_after is None else lost_after
    now = timezone.now()
    cutoff = now - lost_after
    # Rows without task_due_at predate the field: their task was sent at creation.
    qs = (
        Job.objects.select_for_update(skip_locked=True)
        .filter(status__in=Job.STARTABLE)
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=cutoff))
        .filter(Q(task_due_at__lte=cutoff) | Q(task_due_at__isnull=True, created_at__lte=cutoff))
        .order_by("-priority", "created_at")
    )
    if job_ids is not None:
        qs = qs.filter(id__in=list(job_ids))
    requeued = []
    for job in qs[:limit]:
        previous_due = job.task_due_at or job.created_at
        _enqueue_on_commit(job)
        audit_record(action="job.requeued", actor=actor, resource_type="job", resource_id=str(job.id),
                     level="warning",
                     details={"status": job.status, "task_due_at": previous_due.isoformat(),
                              "unclaimed_seconds": int((now - previous_due).total_seconds())})
        requeued.append(job)
    if requeued:
        logger.warning("re-enqueued %d job(s) whose task was lost", len(requeued))
    return requeued


# --------------------------------------------------------------------------- schedules


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationFailed(fields={"timezone": ["Not a known IANA time zone."]}) from None


def next_runs(rule: ScheduleRule, *, after: datetime, count: int = 1) -> list[datetime]:
    """The next ``count`` run times strictly after ``after`` (UTC). Cron is
    evaluated in the rule's time zone by cronsim."""
    zone = _zone(rule.timezone)
    out: list[datetime] = []
    if rule.rule_type == ScheduleRule.RuleType.ONCE:
        return [rule.run_at] if rule.run_at and rule.run_at > after else []
    if rule.rule_type == ScheduleRule.RuleType.INTERVAL:
        anchor = rule.run_at or rule.created_at or after
        step = timedelta(seconds=rule.interval_seconds)
        n = max(0, int((after - anchor) // step) + 1) if after >= anchor else 0
        while len(out) < count:
            out.append(anchor + n * step)
            n += 1
        return out
    from cronsim import CronSim, CronSimError

    try:
        it = CronSim(rule.cron_expression, after.astimezone(zone).replace(second=0, microsecond=0))
    except CronSimError as exc:
        raise ValidationFailed(fields={"cron_expression": [str(exc)]}) from None
    for moment in it:
        moment = moment.astimezone(ZoneInfo("UTC"))
        if moment > after:
            out.append(moment)
        if len(out) >= count:
            break
    return out


def _validate_schedule(rule: ScheduleRule) -> None:
    _zone(rule.timezone)
    template = rule.job_template
    if not isinstance(template, dict) or set(template) - {"type", "source", "destination", "options", "priority"}:
        raise ValidationFailed(fields={"job_template": ["{type, source, destination?, options?, priority?}"]})
    # The template must be a job the owner may submit now (checked again per run).
    access.check_job(rule.user, template.get("type"), template.get("source"), template.get("destination"))
    validate_options(template.get("options"))
    if rule.rule_type == "cron" and not rule.cron_expression:
        raise ValidationFailed(fields={"cron_expression": ["Required for a cron rule."]})
    if rule.rule_type == "interval" and not rule.interval_seconds:
        raise ValidationFailed(fields={"interval_seconds": ["Required for an interval rule."]})
    if rule.rule_type == "once" and not rule.run_at:
        raise ValidationFailed(fields={"run_at": ["Required for a once rule."]})
    validate_model(rule, exclude=["user"])
    next_runs(rule, after=timezone.now())  # a bad cron expression fails here


SCHEDULE_FIELDS = ("name", "description", "rule_type", "cron_expression", "interval_seconds", "run_at", "timezone",
                   "job_template", "is_active")


@transaction.atomic
def schedule_create(*, actor, name: str, rule_type: str, job_template: dict, timezone_name: str = "UTC",
                    cron_expression: str | None = None, interval_seconds: int | None = None,
                    run_at: datetime | None = None, is_active: bool = True, description: str = "") -> ScheduleRule:
    rule = ScheduleRule(user=actor, name=name, rule_type=rule_type, job_template=job_template,
                        timezone=timezone_name, cron_expression=cron_expression or None,
                        interval_seconds=interval_seconds, run_at=run_at, is_active=is_active,
                        description=description or "")
    _validate_schedule(rule)
    rule.created_at = timezone.now()
    rule.next_run_at = (next_runs(rule, after=timezone.now()) or [None])[0] if is_active else None
    rule.save()
    audit_record(action="schedule.created", actor=actor, resource_type="schedule", resource_id=str(rule.id),
                 details={f: jsonable(getattr(rule, f)) for f in SCHEDULE_FIELDS})
    return rule


@transaction.atomic
def schedule_update(*, actor, rule: ScheduleRule, **changes) -> ScheduleRule:
    rule = ScheduleRule.objects.select_for_update().get(pk=rule.pk)
    if rule.user_id != actor.pk and not access.is_superuser(actor):
        raise NotFound("No such schedule.")
    unknown = set(changes) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValidationFailed(fields={k: ["Unknown field."] for k in unknown})
    before = {f: jsonable(getattr(rule, f)) for f in changes}
    for key, value in changes.items():
        setattr(rule, key, value)
    _validate_schedule(rule)
    rule.next_run_at = (next_runs(rule, after=timezone.now()) or [None])[0] if rule.is_active else None
    rule.save()
    action = "schedule.updated"
    if set(changes) == {"is_active"}:
        action = "schedule.resumed" if rule.is_active else "schedule.paused"
    audit_record(action=action, actor=actor, resource_type="schedule", resource_id=str(rule.id),
                 details={"before": before, "after": {f: jsonable(getattr(rule, f)) for f in changes}})
    return rule


@transaction.atomic
def schedule_delete(*, actor, rule: ScheduleRule) -> None:
    if rule.user_id != actor.pk and not access.is_superuser(actor):
        raise NotFound("No such schedule.")
    rule_id, name = str(rule.id), rule.name
    rule.delete()
    audit_record(action="schedule.deleted", actor=actor, resource_type="schedule", resource_id=rule_id,
                 details={"name": name})


def schedule_run(*, rule_id, run_at: datetime, actor=None) -> Job | None:
    """Create the job for one run time of a rule, exactly once: the rule row
    is locked (a second beat skips it) and (schedule, run time) is unique (a
    backstop if the lock is ever bypassed). Advances ``next_run_at``."""
    with transaction.atomic():
        rule = ScheduleRule.objects.select_for_update(skip_locked=True).filter(id=rule_id).first()
        if rule is None or rule.next_run_at != run_at or not rule.is_active:
            return None  # another beat has this rule, or already ran this time
        job = None
        if not Job.objects.filter(schedule=rule, schedule_run_at=run_at).exists():
            template = rule.job_template
            try:
                with transaction.atomic():
                    job = job_submit(
                        actor=rule.user, type=template.get("type"), source=template.get("source"),
                        destination=template.get("destination"), options=template.get("options"),
                        priority=template.get("priority", 5), schedule=rule, schedule_run_at=run_at,
                    )
            except Conflict:
                job = None
            except (PermissionDenied, NotFound, ValidationFailed) as exc:
                audit_record(action="schedule.run_refused", actor=None, resource_type="schedule",
                             resource_id=str(rule.id), result="failure", level="warning",
                             details={"run_at": run_at.isoformat(), "error": exc.message})
        now = timezone.now()
        rule.last_run_at = run_at
        upcoming = next_runs(rule, after=max(run_at, now)) if rule.is_active else []
        rule.next_run_at = upcoming[0] if upcoming else None
        if rule.rule_type == ScheduleRule.RuleType.ONCE:
            rule.is_active = False
        rule.save(update_fields=["last_run_at", "next_run_at", "is_active", "updated_at"])
        return job


def schedules_tick(*, now: datetime | None = None) -> list[Job]:
    """Beat task body: every due active rule runs once for its due time."""
    now = now or timezone.now()
    created = []
    due = ScheduleRule.objects.filter(is_active=True, next_run_at__isnull=False, next_run_at__lte=now)
    for rule_id, run_at in due.values_list("id", "next_run_at"):
        job = schedule_run(rule_id=rule_id, run_at=run_at)
        if job is not None:
            created.append(job)
    return created


@transaction.atomic
def schedule_run_now(*, actor, rule: ScheduleRule) -> Job:
    """Admin/page action: one extra run of a schedule at this moment, as its
    owner (the owner's permissions apply)."""
    if rule.user_id != actor.pk and not access.is_superuser(actor):
        raise NotFound("No such schedule.")
    template = rule.job_template
    job = job_submit(actor=rule.user, type=template.get("type"), source=template.get("source"),
                     destination=template.get("destination"), options=template.get("options"),
                     priority=template.get("priority", 5), schedule=rule, schedule_run_at=timezone.now())
    audit_record(action="schedule.run_now", actor=actor, resource_type="schedule", resource_id=str(rule.id),
                 details={"job_id": str(job.id)})
    return job
