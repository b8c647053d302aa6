"""The runner under real faults, in-process (the worker's task body in a
thread, real rclone, real PostgreSQL and Redis): its backends terminated
with pg_terminate_backend(), the database refusing connections for a while,
a cancel while it reconnects, its run taken over, an exception inside it,
the thread that started rclone gone."""

import os
import signal
import threading
import time
from datetime import timedelta

import psutil
import pytest
from django.db import connection
from django.utils import timezone

from jobs import locks, rclone, runner, services, tasks
from jobs.models import Job, JobLog
from tests.jobs.conftest import tree
from tests.jobs.faults import RcloneWatch, database_refusing_connections, rclone_processes, terminate_runner_backends
from tests.processes import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


class Run(threading.Thread):
    """tasks.execute in a thread of its own (so on connections of its own,
    as in a worker process), keeping what it returned."""

    def __init__(self, job_id, **kwargs):
        super().__init__(daemon=True)
        self.job_id, self.kwargs = job_id, kwargs
        self.result = self.error = None

    def run(self):
        try:
            self.result = tasks.execute(self.job_id, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - the test shows it
            self.error = exc
        finally:
            connection.close()

    def outcome(self, timeout=90):
        self.join(timeout)
        assert not self.is_alive(), "the runner did not finish"
        assert self.error is None, repr(self.error)
        return self.result


def files(n=25, size=48_000):
    return {f"d/f{i:02d}.bin": os.urandom(size) for i in range(n)}


def copy_job(power, src, dst, **options):
    return services.job_submit(actor=power, type="copy", source={"remote": src, "path": "/"},
                               destination={"remote": dst, "path": "/"},
                               options={"bwlimit": "150K", "verbose": True, **options})


def started(job, marker):
    """Running, with rclone up and a first progress written."""
    return wait_for(lambda: rclone_processes(marker) and Job.objects.filter(id=job.id, progress__gt=0).exists(), 60)


def messages(job):
    return list(JobLog.objects.filter(job=job).order_by("id").values_list("message", flat=True))


def summary(job):
    """The run's summary line (a note on an outage noticed only after
    rclone ended may follow it)."""
    return JobLog.objects.filter(job=job, details__has_key="outcome").order_by("-id").first()


def test_the_runner_reconnects_after_its_backends_are_terminated_and_completes(power, make_local):
    _, src_root = make_local("tbsrc", files())
    _, dst_root = make_local("tbdst")
    job = copy_job(power, "tbsrc", "tbdst")
    with RcloneWatch("tbsrc:") as watch:
        run = Run(job.id)
        run.start()
        assert started(job, "tbsrc:")
        for _ in range(3):
            # Each time on the connection the runner opened since the last kill.
            assert wait_for(lambda: terminate_runner_backends(job.id) > 0, 10)
            time.sleep(0.5)
        assert run.outcome() == "completed"
    assert watch.most == 1 and len(watch.pids) == 1  # the one rclone, watched to its end
    assert tree(dst_root) == tree(src_root)
    job.refresh_from_db()
    assert job.status == "completed" and job.progress == 100 and job.result["transfers"] == 25
    logged = messages(job)
    assert logged[0].startswith("Started") and summary(job).message.startswith("Completed")
    assert any("database was unreachable" in m for m in logged)
    assert sorted(m.split(":")[0] for m in logged if "Copied" in m) == sorted(tree(src_root))


def test_lines_and_progress_of_an_outage_are_kept_and_written_on_reconnect(power, make_local):
    _, src_root = make_local("obsrc", files())
    _, dst_root = make_local("obdst")
    job = copy_job(power, "obsrc", "obdst")
    run = Run(job.id)
    run.start()
    assert started(job, "obsrc:")
    with database_refusing_connections():
        blocked_at = timezone.now()
        assert terminate_runner_backends(job.id) > 0
        beat = Job.objects.get(id=job.id).heartbeat_at
        time.sleep(4)  # well inside JOBS_RUNNER_GIVE_UP_SECONDS
        # rclone copies on, watched, while nothing reaches the database.
        assert rclone_processes("obsrc:")
        assert Job.objects.get(id=job.id).heartbeat_at == beat
        unblocked_at = timezone.now()
    assert run.outcome() == "completed"
    assert tree(dst_root) == tree(src_root)
    # Lines rclone wrote during the outage are stored, with the time they were seen.
    during = JobLog.objects.filter(job=job, created_at__gt=blocked_at, created_at__lt=unblocked_at,
                                   message__contains="Copied")
    assert during.exists()
    outage = JobLog.objects.get(job=job, message__contains="database was unreachable")
    assert outage.level == "warning" and blocked_at <= outage.created_at <= unblocked_at
    assert JobLog.objects.filter(job=job, message__contains="Copied").count() == 25


def test_a_runner_that_cannot_reach_the_database_stops_rclone_before_its_job_counts_as_stale(
        power, make_local, settings):
    settings.JOBS_HEARTBEAT_SECONDS = 1
    settings.JOBS_RUNNER_GIVE_UP_SECONDS = 3
    settings.JOBS_STALE_SECONDS = 9  # give-up + grace + margin, as settings require
    _, src_root = make_local("gusrc", files(20, 60_000))
    _, dst_root = make_local("gudst")
    job = copy_job(power, "gusrc", "gudst")
    with RcloneWatch("gusrc:") as watch:
        run = Run(job.id)
        run.start()
        assert started(job, "gusrc:")
        with database_refusing_connections():
            assert terminate_runner_backends(job.id) > 0
            # The moment the sweep may hand the job to another run, no rclone of it is left.
            assert wait_for(lambda: Job.objects.runner_gone().filter(id=job.id).exists(), 30)
            assert rclone_processes("gusrc:") == []
            assert run.outcome(30) == "lost"
        assert Job.objects.get(id=job.id).status == "running"  # nobody could record it
        recovered = services.job_recover_stale()
        assert [j.id for j in recovered] == [job.id]
        job.refresh_from_db()
        assert job.status == "queued" and job.retry_count == 1 and job.run_token is None
        # The retry completes what the first run had copied.
        assert tasks.execute(job.id) == "completed"
    assert watch.most == 1 and len(watch.pids) == 2  # one after the other, never two at once
    assert tree(dst_root) == tree(src_root)
    assert any(m.startswith("Started (attempt 2 of 4") for m in messages(job))


def test_a_cancel_sent_while_the_runner_reconnects_stops_rclone_and_ends_cancelled(power, make_local):
    make_local("crsrc", files())
    make_local("crdst")
    job = copy_job(power, "crsrc", "crdst")
    run = Run(job.id)
    run.start()
    assert started(job, "crsrc:")
    with database_refusing_connections():
        assert terminate_runner_backends(job.id) > 0
        services.job_cancel(actor=power, job=job)
        # The cancel reaches the process that runs (through Redis)...
        assert wait_for(lambda: not rclone_processes("crsrc:"), 10)
        # ...and the status is the runner's to set, once rclone is gone.
        job.refresh_from_db()
        assert job.status == "running" and job.cancel_requested_at is not None
    assert run.outcome() == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and job.cancelled_at is not None and job.run_token is None
    assert summary(job).message.startswith("Cancelled after")


def test_a_cancel_reaches_the_runner_through_its_heartbeat_when_the_redis_flag_is_gone(power, make_local):
    make_local("chsrc", files())
    make_local("chdst")
    job = copy_job(power, "chsrc", "chdst")
    run = Run(job.id)
    run.start()
    assert started(job, "chsrc:")
    services.job_cancel(actor=power, job=job)
    locks.clear_cancel(job.id)  # as if Redis had lost it
    assert run.outcome() == "cancelled"
    assert rclone_processes("chsrc:") == []


def test_a_runner_whose_job_was_handed_to_another_run_kills_its_rclone_at_once(power, make_local):
    _, src_root = make_local("sssrc", files())
    _, dst_root = make_local("ssdst")
    job = copy_job(power, "sssrc", "ssdst")
    run = Run(job.id)
    run.start()
    assert started(job, "sssrc:")
    [first] = rclone_processes("sssrc:")
    # A sweep that finds the heartbeat old, as after a runner frozen past the threshold.
    assert [j.id for j in services.job_recover_stale(stale_after=timedelta(0))] == [job.id]
    assert run.outcome(30) == "superseded"
    assert not first.is_running()
    job.refresh_from_db()
    assert job.status == "queued" and job.retry_count == 1  # the old run changed nothing after
    assert tasks.execute(job.id) == "completed"
    assert tree(dst_root) == tree(src_root)


def test_an_exception_in_the_runner_stops_rclone_before_the_job_is_failed(power, make_local):
    make_local("exsrc", files(5))
    make_local("exdst")
    job = copy_job(power, "exsrc", "exdst")
    pids = []

    def explode(pid):
        pids.append(pid)
        raise RuntimeError("injected")

    assert tasks.execute(job.id, on_start=explode) == "failed"
    assert pids and not psutil.pid_exists(pids[0])
    job.refresh_from_db()
    assert job.error == "Internal error: RuntimeError"


def test_rclone_dies_with_the_thread_that_started_it(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(os.urandom(2_000_000))
    started_procs = []
    argv = [rclone.binary(), "--config", "/dev/null", "copy", str(tmp_path / "src"), str(tmp_path / "dst"),
            "--bwlimit", "10K"]
    thread = threading.Thread(target=lambda: started_procs.append(runner.start(argv, {"PATH": "/usr/bin:/bin",
                                                                                       "HOME": str(tmp_path)})))
    thread.start()
    thread.join()
    [proc] = started_procs
    assert proc.wait(10) == -signal.SIGKILL
    proc.stderr.close()
