"""Celery tasks, thin: one ``run_job`` task per job (its body is
jobs.execution.execute), and the beat tasks, each one service call."""

from __future__ import annotations

from celery import shared_task

from jobs import services
from jobs.dispatch import RUN_JOB_TASK
from jobs.execution import execute
from jobs.reporter import DB_ERRORS


# Before the claim nothing has started: a database that is away only delays
# the job (the task is sent again; a duplicate delivery claims nothing).
@shared_task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=False, ignore_result=True,
             autoretry_for=DB_ERRORS, retry_backoff=1, retry_backoff_max=30, max_retries=20)
def run_job(job_id: str) -> str:
    return execute(job_id)


@shared_task(name="jobs.tasks.recover_stale_jobs", ignore_result=True)
def recover_stale_jobs() -> int:
    return len(services.job_recover_stale())


@shared_task(name="jobs.tasks.requeue_lost_jobs", ignore_result=True)
def requeue_lost_jobs() -> int:
    return len(services.job_requeue_lost())


@shared_task(name="jobs.tasks.schedules_tick", ignore_result=True)
def schedules_tick() -> int:
    return len(services.schedules_tick())


@shared_task(name="jobs.tasks.prune_job_logs", ignore_result=True)
def prune_job_logs() -> int:
    return services.job_logs_prune()
