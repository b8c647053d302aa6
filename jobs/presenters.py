"""The API's shapes for jobs, remotes, grants and schedules (api.md). Shared by
the API, the pages' JSON calls and the realtime frames. Secret options never
appear: a remote shows only the *names* of the secrets it holds."""

from __future__ import annotations

from core.timestamps import isoformat_z
from jobs.models import Job, JobLog, Remote, RemotePermission, ScheduleRule
from jobs.secrets import decrypt_options

EMPTY_STATS = {"bytes": 0, "total_bytes": 0, "speed": 0, "eta": None, "transfers": 0, "total_transfers": 0,
               "errors": 0, "checks": 0}


def remote_dict(remote: Remote) -> dict:
    return {
        "id": str(remote.id),
        "name": remote.name,
        "type": remote.type,
        "options": dict(remote.options),
        # Which secrets are set, never their values.
        "secret_options_set": sorted(decrypt_options(remote.secret_options)),
        "description": remote.description,
        "created_at": isoformat_z(remote.created_at),
    }


def grant_dict(grant: RemotePermission) -> dict:
    return {
        "id": str(grant.id),
        "remote": grant.remote.name,
        "user_id": str(grant.user_id) if grant.user_id else None,
        "role_id": str(grant.role_id) if grant.role_id else None,
        "department_id": str(grant.department_id) if grant.department_id else None,
        "permissions": list(grant.permissions),
        "path_rules": list(grant.path_rules),
        "created_at": isoformat_z(grant.created_at),
    }


def job_dict(job: Job) -> dict:
    result = job.result or {}
    stats = {key: result.get(key, default) for key, default in EMPTY_STATS.items()}
    return {
        "id": str(job.id),
        "type": job.type,
        "status": job.status,
        "priority": job.priority,
        "progress": job.progress,
        "source": job.source,
        "destination": job.destination,
        "options": job.options,
        "stats": stats,
        "transferring": result.get("transferring", []),
        "error": job.error or None,
        "retry_count": job.retry_count,
        "max_retries": job.max_retries,
        "scheduled_for": isoformat_z(job.scheduled_for),
        "created_at": isoformat_z(job.created_at),
        "started_at": isoformat_z(job.started_at),
        "completed_at": isoformat_z(job.completed_at),
        "cancelled_at": isoformat_z(job.cancelled_at),
        "schedule_id": str(job.schedule_id) if job.schedule_id else None,
    }


def log_dict(log: JobLog) -> dict:
    return log_line_dict(id=log.id, level=log.level, message=log.message, details=log.details,
                         created_at=log.created_at)


def log_line_dict(*, id, level, message, details, created_at) -> dict:
    return {"id": id, "level": level, "message": message, "details": details, "created_at": isoformat_z(created_at)}


def schedule_dict(rule: ScheduleRule) -> dict:
    return {
        "id": str(rule.id),
        "name": rule.name,
        "description": rule.description,
        "rule_type": rule.rule_type,
        "cron_expression": rule.cron_expression,
        "interval_seconds": rule.interval_seconds,
        "run_at": isoformat_z(rule.run_at),
        "timezone": rule.timezone,
        "job_template": rule.job_template,
        "is_active": rule.is_active,
        "last_run_at": isoformat_z(rule.last_run_at),
        "next_run_at": isoformat_z(rule.next_run_at),
        "created_at": isoformat_z(rule.created_at),
    }
