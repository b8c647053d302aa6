"""Lost queued jobs: a startable job whose Celery task vanished (broker
flushed, worker died before claiming) is re-enqueued by the beat sweep, and
still runs exactly once when the original task turns up as well."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditLog
from config.celery import app as celery_app
from core.errors import PermissionDenied
from jobs import locks, services, tasks
from jobs.models import Job
from tests.jobs.conftest import deliver_concurrently, tree
from tests.jobs.test_worker import start_worker, stop, wait_for

LONG_AGO = timedelta(hours=1)


def submit(actor, **kwargs):
    kwargs.setdefault("source", {"remote": "src", "path": "/"})
    return services.job_submit(actor=actor, type=kwargs.pop("type", "delete"), **kwargs)


def backdate(job, by=LONG_AGO):
    Job.objects.filter(id=job.id).update(task_due_at=timezone.now() - by)


@pytest.mark.django_db
def test_sweep_requeues_only_due_unclaimed_jobs_past_the_threshold(power, make_local, django_capture_on_commit_callbacks):
    make_local("src", {"a.txt": "a"})
    fresh = submit(power)
    lost = submit(power)
    backdate(lost)
    legacy = submit(power)  # a row from before task_due_at existed
    Job.objects.filter(id=legacy.id).update(task_due_at=None, created_at=timezone.now() - LONG_AGO)
    future = submit(power, scheduled_for=timezone.now() + timedelta(days=1))
    backdate(future)
    overdue = submit(power, scheduled_for=timezone.now() - LONG_AGO)
    backdate(overdue)
    Job.objects.filter(id=overdue.id).update(status="pending")  # its eta task never fired
    running = submit(power)
    services.job_claim(job_id=running.id, worker="w:1")
    backdate(running)
    cancelled = submit(power)
    services.job_cancel(actor=power, job=cancelled)
    backdate(cancelled)
    assert fresh.task_due_at is not None and future.task_due_at == future.scheduled_for

    with django_capture_on_commit_callbacks(execute=False) as sent:
        requeued = services.job_requeue_lost(lost_after=timedelta(minutes=5))
    assert {j.id for j in requeued} == {lost.id, legacy.id, overdue.id}
    assert len(sent) == 3  # one task each, sent on commit
    for job in (lost, legacy, overdue):
        job.refresh_from_db()
        assert job.status in ("queued", "pending") and timezone.now() - job.task_due_at < timedelta(minutes=1)
        entry = AuditLog.objects.get(action="job.requeued", resource_id=str(job.id))
        assert entry.actor is None and entry.details["unclaimed_seconds"] >= 3600
    # The clock restarts: the next tick does not send them again.
    assert services.job_requeue_lost(lost_after=timedelta(minutes=5)) == []


@pytest.mark.django_db
def test_the_threshold_comes_from_settings(power, make_local, settings):
    make_local("src")
    job = submit(power)
    backdate(job, timedelta(seconds=90))
    settings.JOBS_LOST_QUEUED_SECONDS = 120
    assert services.job_requeue_lost() == []
    settings.JOBS_LOST_QUEUED_SECONDS = 60
    assert [j.id for j in services.job_requeue_lost()] == [job.id]


@pytest.mark.django_db(transaction=True)
def test_retry_backoff_is_not_mistaken_for_a_lost_task(power, make_local, settings):
    make_local("src")
    settings.JOBS_RETRY_BASE_SECONDS = 600
    job = submit(power)
    services.job_claim(job_id=job.id, worker="w:1")
    job = services.job_finish(job=job, ok=False, error="rclone exited with code 5", temporary=True)
    assert job.status == "queued" and job.task_due_at > timezone.now() + timedelta(minutes=9)
    assert services.job_requeue_lost(lost_after=timedelta(seconds=1)) == []


@pytest.mark.django_db(transaction=True)
def test_a_job_waiting_for_a_busy_remote_is_not_lost(power, make_local, settings):
    make_local("src", {"a.txt": "a"})
    settings.JOBS_PER_REMOTE_CONCURRENCY = 1
    job = submit(power)
    backdate(job)
    holder = locks.RemoteSlots(["src"])
    assert holder.acquire()
    try:
        assert tasks.execute(job.id) == "busy"
    finally:
        holder.release()
    job.refresh_from_db()
    assert job.task_due_at > timezone.now()  # its bounce is 2 s ahead
    assert services.job_requeue_lost(lost_after=timedelta(seconds=30)) == []


@pytest.mark.django_db(transaction=True)
def test_requeued_job_also_delivered_by_its_original_task_runs_once(power, make_local):
    make_local("src", {"f.bin": os.urandom(300_000)})
    _, dst_root = make_local("dst")
    job = submit(power, type="copy", destination={"remote": "dst", "path": "/"}, options={"bwlimit": "200K"})
    backdate(job)
    assert [j.id for j in services.job_requeue_lost(lost_after=timedelta(minutes=1))] == [job.id]
    results = deliver_concurrently(job.id)  # e.g. the original task and a re-enqueued one
    assert sorted(results) in (["completed", "duplicate"], ["completed", "skipped"])
    assert AuditLog.objects.filter(resource_id=str(job.id), action="job.started").count() == 1
    assert AuditLog.objects.filter(resource_id=str(job.id), action="job.completed").count() == 1
    assert list(tree(dst_root)) == ["f.bin"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_flushed_broker_loses_nothing_with_a_real_worker(power, make_local, tmp_path):
    """No worker while two jobs are submitted; the broker is purged after
    the first (its task is lost). The sweep sends both again, so the second
    has two tasks in the broker. A real worker runs each job exactly once."""
    make_local("lsrc", {"a.txt": "alpha"})
    _, dst_root = make_local("ldst")
    celery_app.control.purge()
    lost = services.job_submit(actor=power, type="copy", source={"remote": "lsrc", "path": "/"},
                               destination={"remote": "ldst", "path": "/lost"})
    assert celery_app.control.purge() >= 1  # the broker loses the first job's task
    doubled = services.job_submit(actor=power, type="copy", source={"remote": "lsrc", "path": "/"},
                                  destination={"remote": "ldst", "path": "/doubled"})
    backdate(lost)
    backdate(doubled)
    assert {j.id for j in services.job_requeue_lost()} == {lost.id, doubled.id}
    worker = start_worker(tmp_path, "wl")
    log = tmp_path / "wl.log"
    try:
        done = wait_for(lambda: Job.objects.filter(id__in=[lost.id, doubled.id], status="completed").count() == 2,
                        90, 0.25)
        assert done, log.read_text()[-3000:]
        # The second delivery of the doubled job found nothing to do.
        assert wait_for(lambda: log.read_text().count("run_job") >= 3 and (
            "'skipped'" in log.read_text() or "'duplicate'" in log.read_text()), 30), log.read_text()[-3000:]
    finally:
        stop(worker)
    for job in (lost, doubled):
        assert AuditLog.objects.filter(resource_id=str(job.id), action="job.started").count() == 1
    assert tree(dst_root) == {"lost/a.txt": b"alpha", "doubled/a.txt": b"alpha"}


@pytest.mark.django_db
def test_only_staff_may_requeue_by_hand_and_the_admin_action_does(power, make_local, make_user, client):
    make_local("src")
    job = submit(power)
    with pytest.raises(PermissionDenied):
        services.job_requeue_lost(actor=power, job_ids=[job.id], lost_after=timedelta(0))
    staff = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post("/admin/jobs/job/", {"action": "requeue_jobs", "_selected_action": [str(job.pk)]})
    assert response.status_code == 302
    entry = AuditLog.objects.get(action="job.requeued", resource_id=str(job.id))
    assert entry.actor == staff


def test_the_sweep_is_a_beat_task():
    entry = settings.CELERY_BEAT_SCHEDULE["jobs-requeue-lost"]
    assert entry["task"] == "jobs.tasks.requeue_lost_jobs"
    assert entry["task"] in celery_app.tasks
