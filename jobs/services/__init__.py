"""Every write of the jobs app, one module per use case; this package
re-exports them, so callers import ``jobs.services``. Keyword-only
arguments, one transaction, the permission check inside, one audit entry per
change (and per job state transition), side effects (Celery, broadcasts,
Redis) on commit. An update's fields default to core.changes.UNSET (leave
alone), and its audit entry says what changed as ``{field: {"old", "new"}}``.

Job states::

    pending --(enqueue)--> queued --(claim)--> running --> completed | failed | cancelled
    pending/queued --(cancel)--> cancelled
    running --(temporary failure, retries left / stale heartbeat)--> queued
    failed/cancelled --(retry)--> queued

A job is *pending* while it waits for ``scheduled_for``, *queued* once it is
due and in the broker (jobs.dispatch sends its task). jobs.execution runs
it; the run's writes are in ``job_run``.
"""

from jobs.dispatch import job_redispatch
from jobs.services.job_control import job_cancel, job_retry
from jobs.services.job_logs import job_logs_append, job_logs_prune
from jobs.services.job_recovery import job_recover_stale, job_requeue_lost
from jobs.services.job_run import RunSuperseded, job_claim, job_finish, job_heartbeat
from jobs.services.job_submit import backup_folder_name, job_run_previewed, job_submit
from jobs.services.remote_permissions import permission_grant, permission_revoke
from jobs.services.remotes import remote_create, remote_delete, remote_update
from jobs.services.schedules import (
    next_runs,
    schedule_create,
    schedule_delete,
    schedule_run,
    schedule_run_now,
    schedule_update,
    schedules_tick,
)

__all__ = [
    "RunSuperseded", "backup_folder_name", "job_cancel", "job_claim", "job_finish", "job_heartbeat",
    "job_logs_append", "job_logs_prune", "job_recover_stale", "job_redispatch", "job_requeue_lost", "job_retry",
    "job_run_previewed",
    "job_submit", "next_runs", "permission_grant", "permission_revoke", "remote_create", "remote_delete",
    "remote_update", "schedule_create", "schedule_delete", "schedule_run", "schedule_run_now", "schedule_update",
    "schedules_tick",
]
