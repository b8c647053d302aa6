"""Reads scoped to the actor: remotes they can see, their jobs and
schedules, a job's logs, and listings of remote directories they may read."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from config.faults import OPEN, redis_policy
from core.errors import NotFound, ValidationFailed
from jobs import access, rclone
from jobs.models import Job, JobLog, Remote, RemotePermission, ScheduleRule
from jobs.runner import Redactor

BROWSE_CACHE_SECONDS = 60  # seed 001: cache:files:{remote_id}:{path_hash}, TTL 60
LIST_TIMEOUT_SECONDS = 30


def remotes_for(user) -> QuerySet[Remote]:
    qs = Remote.objects.filter(is_active=True)
    if access.is_superuser(user):
        return qs
    visible = [r.pk for r in qs if access.access_for(user, r).any]
    return qs.filter(pk__in=visible)


def grants_of(user, remote: Remote) -> QuerySet[RemotePermission]:
    if not access.access_for(user, remote).is_admin:
        raise NotFound(_("No such remote."))
    return RemotePermission.objects.filter(remote=remote).select_related("remote")


def jobs_for(user, *, status: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.all() if access.is_superuser(user) else Job.objects.filter(user=user)
    if status:
        if status not in Job.Status.values:
            raise ValidationFailed(fields={"status": [_("One of %(names)s.") % {"names": ", ".join(Job.Status.values)}]})
        qs = qs.filter(status=status)
    return qs


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def job_for(user, job_id) -> Job:
    job_id = _uuid_or_none(job_id)
    job = jobs_for(user).filter(id=job_id).first() if job_id else None
    if job is None:
        raise NotFound(_("No such job."))
    return job


def job_logs(user, job_id, *, after: int | None = None, limit: int = 100) -> tuple[list[JobLog], int | None]:
    job = job_for(user, job_id)
    qs = JobLog.objects.filter(job_id=job.id).order_by("id")
    if after is not None:
        qs = qs.filter(id__gt=after)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def schedules_for(user) -> QuerySet[ScheduleRule]:
    return ScheduleRule.objects.all() if access.is_superuser(user) else ScheduleRule.objects.filter(user=user)


def schedule_for(user, rule_id) -> ScheduleRule:
    rule_id = _uuid_or_none(rule_id)
    rule = schedules_for(user).filter(id=rule_id).first() if rule_id else None
    if rule is None:
        raise NotFound(_("No such schedule."))
    return rule


def _lsjson(remote: Remote, path: str) -> list[dict]:
    with rclone.RunDir([remote]) as run_dir:
        argv = [rclone.binary(), "--config", str(run_dir.config), "lsjson", "--max-depth", "1",
                "--no-mimetype", "--ask-password=false", access.remote_string(remote, path)]
        try:
            proc = subprocess.run(argv, env=run_dir.env(), capture_output=True, text=True, timeout=LIST_TIMEOUT_SECONDS,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ValidationFailed(_("Listing the remote timed out."), code="remote_unavailable") from None
    if proc.returncode != 0:
        message = Redactor(rclone.secret_values([remote]))(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "")
        if proc.returncode == 3:
            raise NotFound(_("No such directory."))
        raise ValidationFailed(_("Listing failed: %(reason)s") % {"reason": message[:500]}, code="remote_unavailable")
    return json.loads(proc.stdout or "[]")


_BROWSE_CACHE = redis_policy("remote_browse_cache", fails=OPEN, fallback=None,
                             means="every directory listing runs rclone; nothing is cached")


@_BROWSE_CACHE
def _browse_cache_get(key: str):
    return cache.get(key)


@_BROWSE_CACHE
def _browse_cache_set(key: str, listing) -> None:
    cache.set(key, listing, BROWSE_CACHE_SECONDS)


def remote_browse(user, name: str, path: str) -> list[dict]:
    """The entries of one directory the user may read, each filtered by the
    path rules. The raw listing is cached in Redis for 60 s."""
    remote, acc = access.get_remote(user, name)
    path = access.canonical_path(path)
    access.require(acc, "read", path)
    key = f"cache:files:{remote.id}:{hashlib.sha256(path.encode()).hexdigest()}"
    listing = _browse_cache_get(key)
    if listing is None:
        listing = _lsjson(remote, path)
        _browse_cache_set(key, listing)
    entries = []
    for item in listing:
        name_ = item.get("Name", "")
        try:
            entry_path = access.join_path(path, name_)
        except ValidationFailed:
            continue  # a name we could never address safely
        if not acc.allows("read", entry_path):
            continue
        entries.append({"name": name_, "path": entry_path, "is_dir": bool(item.get("IsDir")),
                        "size": item.get("Size") if not item.get("IsDir") else None,
                        "mod_time": item.get("ModTime")})
    entries.sort(key=lambda e: (not e["is_dir"], e["name"]))
    return entries


def remote_test(user, name: str) -> dict:
    """Test connection: a real listing of the remote's root (never cached)."""
    remote, acc = access.get_remote(user, name)
    if not (acc.is_admin or acc.allows("read", "/")):
        raise NotFound(_("No such remote."))
    try:
        entries = _lsjson(remote, "/")
    except (ValidationFailed, NotFound) as exc:
        return {"ok": False, "error": exc.message}
    return {"ok": True, "entries": len(entries)}


PREVIEW_LIMIT = 1000
# rclone's dry-run notices name what was skipped; the preview groups them.
PREVIEW_GROUPS = {"copy": "copy", "delete": "delete", "move": "move", "server-side directory move": "move"}


def dry_run_preview(job: Job) -> dict[str, list[dict]] | None:
    """What a dry run (options.dry_run) would have done, from its log:
    ``{"copy": [{object, size}], "delete": [...], "move": [...]}`` (at most
    PREVIEW_LIMIT lines; a run stores at most runner.MAX_LOG_LINES anyway).
    None for a job that is not a dry run. The caller has the job from
    ``job_for`` (scoped to the user)."""
    if not job.options.get("dry_run"):
        return None
    groups: dict[str, list[dict]] = {"copy": [], "delete": [], "move": []}
    rows = JobLog.objects.filter(job=job, details__has_key="skipped").order_by("id").values_list("details", flat=True)
    for details in rows[:PREVIEW_LIMIT]:
        skipped = str(details.get("skipped"))
        group = PREVIEW_GROUPS.get(skipped)
        if group == "move" and skipped != "move":
            # A whole-folder move names the backend ("Local file system at
            # /srv/..."), not a path of the remote: say what it means instead.
            groups[group].append({"object": f"{job.source.get('remote')}:{job.source.get('path')} (the whole folder)",
                                  "size": None})
        elif group:
            groups[group].append({"object": details.get("object") or "", "size": details.get("size")})
    return groups
