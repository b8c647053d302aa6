"""Real processes: `celery -A config worker` subprocesses against the test
database, killed mid-job (the main process, or the pool process that runs
the job) for crash recovery, with a real beat sweeping; and `rclone serve
webdav` / `serve s3` on loopback as remotes with a password."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from jobs import rclone, services, tasks
from jobs.models import Job, JobLog
from tests.jobs.conftest import tree
from tests.jobs.faults import RcloneWatch, rclone_processes
from tests.processes import celery_worker, child_env, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
# A dead runner is seen within the stale threshold plus one sweep; the rest
# is slack for a loaded machine (the figure itself is bench/jobs.py's).
RECOVERY_DEADLINE = settings.JOBS_STALE_SECONDS + settings.JOBS_STALE_SWEEP_SECONDS + 15


def start_worker(tmp_path, name, *, beat=False):
    """A worker with one prefork pool process; ``beat``: with the beat
    embedded (so the real periodic sweeps run, on their real schedule)."""
    return celery_worker(tmp_path, name, beat=beat, RCLONE_LOCAL_ROOTS=",".join(settings.RCLONE_LOCAL_ROOTS),
                         DEBUG="1", JOBS_RUN_DIR_ROOT=settings.JOBS_RUN_DIR_ROOT)


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def running_with_rclone(job, marker, log):
    assert wait_for(lambda: Job.objects.get(id=job.id).status == "running", 60), log.read_text()[-3000:]
    found = wait_for(lambda: rclone_processes(marker), 10)
    assert found, log.read_text()[-3000:]
    return found[0]


def test_worker_runs_job_and_recovers_after_being_killed_mid_job(power, make_local, tmp_path):
    _, src_root = make_local("crashsrc", {"big.bin": os.urandom(600_000), "small.txt": "s"})
    _, dst_root = make_local("crashdst")
    root = Path(settings.JOBS_RUN_DIR_ROOT)
    # Another workload's folder under the same prefix (today's /tmp case):
    # it must neither be taken for an orphan nor keep a real one alive.
    foreign = root / f"{rclone.RUN_DIR_PREFIX}1-foreign"
    foreign.mkdir(exist_ok=True)  # the run root is shared by this worker's tests
    worker = start_worker(tmp_path, "w1")
    try:
        job = services.job_submit(actor=power, type="copy", source={"remote": "crashsrc", "path": "/"},
                                  destination={"remote": "crashdst", "path": "/"}, options={"bwlimit": "150K"})
        running_with_rclone(job, "crashsrc:", tmp_path / "w1.log")
        time.sleep(1)
        # SIGKILL the worker's main process only: Celery's pool process dies
        # with it, and rclone with the pool process (PR_SET_PDEATHSIG both).
        os.kill(worker.pid, signal.SIGKILL)
        assert wait_for(lambda: not rclone_processes("crashsrc:"), 10)
    finally:
        stop(worker)
    # Its run directory could not be removed by the dead worker; the next run sweeps it.
    orphans = [p for p in root.glob(f"{rclone.RUN_DIR_PREFIX}*") if p != foreign]
    assert orphans

    def swept():
        # The lock goes when the killed process's last thread has exited,
        # a moment after rclone (which follows the thread that started it).
        with rclone.RunDir([]):
            pass
        return not any(p.exists() for p in orphans)

    assert wait_for(swept, 10) and foreign.exists()
    assert Job.objects.get(id=job.id).status == "running"  # nobody recorded the death

    time.sleep(1.2)
    recovered = services.job_recover_stale(stale_after=timedelta(seconds=1))
    assert [j.id for j in recovered] == [job.id]
    job.refresh_from_db()
    assert job.status == "queued" and job.retry_count == 1 and "heartbeat" in job.error

    # A fresh worker takes the re-queued job to the end.
    worker = start_worker(tmp_path, "w2")
    try:
        done = wait_for(lambda: Job.objects.get(id=job.id).status in ("completed", "failed"), 90, 0.25)
        assert done, (tmp_path / "w2.log").read_text()[-3000:]
    finally:
        stop(worker)
    job.refresh_from_db()
    assert job.status == "completed" and job.progress == 100
    assert tree(dst_root) == tree(src_root)


def test_a_killed_pool_process_is_seen_from_its_heartbeat_and_the_retry_completes_the_copy(
        power, make_local, tmp_path):
    files = {f"f{i:02d}.bin": os.urandom(50_000) for i in range(24)}
    _, src_root = make_local("poolsrc", files)
    _, dst_root = make_local("pooldst")
    # w2 runs beat (the stale sweep every JOBS_STALE_SWEEP_SECONDS) and is
    # the spare worker; w1 gets the job.
    sweeper = start_worker(tmp_path, "w2", beat=True)
    worker = None
    try:
        worker = start_worker(tmp_path, "w1")
        with RcloneWatch("poolsrc:") as watch:
            job = services.job_submit(actor=power, type="copy", source={"remote": "poolsrc", "path": "/"},
                                      destination={"remote": "pooldst", "path": "/"}, options={"bwlimit": "200K"})
            first = running_with_rclone(job, "poolsrc:", tmp_path / "w1.log")
            time.sleep(1)
            pool_process = psutil.Process(first.ppid())
            assert pool_process.ppid() in (worker.pid, sweeper.pid)  # a prefork pool process
            pool_process.send_signal(signal.SIGKILL)
            assert wait_for(lambda: not first.is_running(), 10)  # rclone died with it
            # Recovered: re-queued (and perhaps claimed again at once).
            recovered = Job.objects.filter(id=job.id).exclude(status="running", retry_count=0)
            assert wait_for(recovered.exists, RECOVERY_DEADLINE, 0.2), (tmp_path / "w2.log").read_text()[-3000:]
            job.refresh_from_db()
            assert job.retry_count == 1 and "heartbeat" in job.error
            done = wait_for(lambda: Job.objects.get(id=job.id).status in ("completed", "failed"), 120, 0.25)
            assert done, (tmp_path / "w1.log").read_text()[-3000:]
    finally:
        for proc in (worker, sweeper):
            if proc is not None:
                stop(proc)
    assert watch.most == 1  # never two rclones for the job
    job.refresh_from_db()
    assert job.status == "completed"
    assert tree(dst_root) == tree(src_root)


def test_a_cancel_of_a_job_whose_worker_was_killed_ends_cancelled_and_nothing_runs(power, make_local, tmp_path):
    make_local("ghostsrc", {"big.bin": os.urandom(800_000)})
    _, dst_root = make_local("ghostdst")
    worker = start_worker(tmp_path, "w1")
    try:
        job = services.job_submit(actor=power, type="copy", source={"remote": "ghostsrc", "path": "/"},
                                  destination={"remote": "ghostdst", "path": "/"}, options={"bwlimit": "100K"})
        running_with_rclone(job, "ghostsrc:", tmp_path / "w1.log")
    finally:
        stop(worker)  # the whole worker, SIGKILL
    assert wait_for(lambda: not rclone_processes("ghostsrc:"), 10)
    job = services.job_cancel(actor=power, job=job)
    assert job.cancel_requested_at is not None
    sweeper = start_worker(tmp_path, "w2", beat=True)
    try:
        ended = wait_for(lambda: Job.objects.get(id=job.id).status == "cancelled", RECOVERY_DEADLINE, 0.2)
        assert ended, (tmp_path / "w2.log").read_text()[-3000:]
        time.sleep(3)  # a live worker and beat: still nothing runs it
        assert rclone_processes("ghostsrc:") == []
    finally:
        stop(sweeper)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.retry_count == 0 and job.run_token is None
    # Once the runner is known gone, a cancel needs no one to act on it.
    assert Job.objects.runner_gone().count() == 0


def test_recovery_fails_a_job_without_retries_left(power, make_local):
    make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"}, max_retries=0)
    services.job_claim(job_id=job.id, worker="ghost:1")
    Job.objects.filter(id=job.id).update(heartbeat_at=job.created_at - timedelta(minutes=5))
    services.job_recover_stale()
    job.refresh_from_db()
    assert job.status == "failed" and "ghost:1" in job.error


def test_recovery_of_a_job_whose_cancel_was_requested_cancels_it(power, make_local):
    make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    services.job_claim(job_id=job.id, worker="ghost:2")
    services.job_cancel(actor=power, job=job)  # the worker is gone and never sees it
    Job.objects.filter(id=job.id).update(heartbeat_at=job.created_at - timedelta(minutes=5))
    services.job_recover_stale()
    job.refresh_from_db()
    assert job.status == "cancelled" and job.retry_count == 0


@pytest.mark.parametrize("env, refused", [
    ({"JOBS_STALE_SECONDS": "15"}, True),  # 12 s give-up + 1.5 s grace + 4 s slack > 15
    ({"JOBS_STALE_SECONDS": "15", "JOBS_RUNNER_GIVE_UP_SECONDS": "9"}, False),
    ({"JOBS_HEARTBEAT_SECONDS": "12"}, True),
])
def test_settings_refuse_a_stale_threshold_a_runner_could_outlive(env, refused):
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            env=child_env(DJANGO_SETTINGS_MODULE="config.settings", **env),
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode != 0 and "ImproperlyConfigured" in result.stderr) == refused, result.stderr[-2000:]


def test_a_cancel_of_a_job_whose_runner_is_known_gone_takes_effect_at_once(power, make_local):
    make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    services.job_claim(job_id=job.id, worker="ghost:3")
    Job.objects.filter(id=job.id).update(heartbeat_at=job.created_at - timedelta(minutes=5))
    job = services.job_cancel(actor=power, job=job)
    assert job.status == "cancelled" and job.run_token is None
    assert tasks.execute(job.id) == "skipped"


def test_recovery_frees_the_slots_the_dead_run_held(power, make_local, settings):
    from jobs import locks

    settings.JOBS_PER_REMOTE_CONCURRENCY = 1
    make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    claimed = services.job_claim(job_id=job.id, worker="ghost:4")
    assert locks.RemoteSlots(["src"], token=claimed.run_token.hex).acquire()  # as the dead run did
    assert not locks.RemoteSlots(["src"]).acquire()
    Job.objects.filter(id=job.id).update(heartbeat_at=job.created_at - timedelta(minutes=5))
    assert [j.id for j in services.job_recover_stale()] == [job.id]
    assert locks.RemoteSlots(["src"]).acquire()  # free at once, not after the slot's TTL


@pytest.fixture
def webdav_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [rclone.binary(), "serve", "webdav", str(served), "--addr", f"127.0.0.1:{port}", "--user", "davuser",
         "--pass", "dav-Secret-42"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    ok = wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 15)
    assert ok
    yield f"http://127.0.0.1:{port}/", served
    proc.terminate()
    proc.wait(10)


def test_copy_to_and_from_webdav_with_password_never_logged(power, make_local, webdav_server):
    url, served = webdav_server
    make_local("src", {"a.txt": "alpha", "sub/b.txt": "bravo"})
    _, back_root = make_local("back")
    services.remote_create(actor=power, name="dav", type="webdav",
                           options={"url": url, "vendor": "rclone", "user": "davuser", "pass": "dav-Secret-42"})
    up = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                             destination={"remote": "dav", "path": "/up"}, options={"verbose": True})
    assert tasks.execute(up.id) == "completed"
    assert tree(served) == {"up/a.txt": b"alpha", "up/sub/b.txt": b"bravo"}
    down = services.job_submit(actor=power, type="sync", source={"remote": "dav", "path": "/up"},
                               destination={"remote": "back", "path": "/"})
    assert tasks.execute(down.id) == "completed"
    assert tree(back_root) == {"a.txt": b"alpha", "sub/b.txt": b"bravo"}
    logs = json.dumps(list(JobLog.objects.values("message", "details")))
    assert "Copied" in logs and "dav-Secret-42" not in logs
    # The first line shows the command's shape: remotes and paths, no config file.
    start = JobLog.objects.filter(job=up).order_by("id").first()
    assert start.message.startswith("Started (attempt 1 of 4") and "rclone copy src: dav:up" in start.message
    assert start.details["command"][:4] == ["rclone", "copy", "src:", "dav:up"]
    assert "--config" not in start.message and str(settings.JOBS_RUN_DIR_ROOT) not in json.dumps(start.details)
    # A wrong password is a fatal (non-network) error: no retry.
    services.remote_create(actor=power, name="davbad", type="webdav", options={"url": url, "user": "davuser",
                                                                             "pass": "wrong-Secret-7"})
    bad = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "davbad", "path": "/x"})
    status = tasks.execute(bad.id)
    bad.refresh_from_db()
    assert "wrong-Secret-7" not in bad.error and "wrong-Secret-7" not in json.dumps(
        list(JobLog.objects.filter(job=bad).values("message", "details")))
    assert status == "failed" and bad.retry_count == 0  # 401 is not a network error


def test_high_priority_jobs_start_first_when_the_worker_is_busy(power, make_local, tmp_path):
    make_local("psrc", {"slow.bin": os.urandom(400_000), "x.txt": "x"})
    make_local("pdst")
    worker = start_worker(tmp_path, "wp")
    try:
        busy = services.job_submit(actor=power, type="copy", source={"remote": "psrc", "path": "/slow.bin"},
                                   destination={"remote": "pdst", "path": "/busy"}, options={"bwlimit": "100K"})
        assert wait_for(lambda: Job.objects.get(id=busy.id).status == "running", 60), \
            (tmp_path / "wp.log").read_text()[-3000:]
        # While the only worker process is busy: low first, then high.
        low = services.job_submit(actor=power, type="copy", source={"remote": "psrc", "path": "/x.txt"},
                                  destination={"remote": "pdst", "path": "/low"}, priority=1)
        high = services.job_submit(actor=power, type="copy", source={"remote": "psrc", "path": "/x.txt"},
                                   destination={"remote": "pdst", "path": "/high"}, priority=10)
        assert wait_for(lambda: Job.objects.filter(id__in=[low.id, high.id], status="completed").count() == 2, 90,
                        0.25), (tmp_path / "wp.log").read_text()[-3000:]
    finally:
        stop(worker)
    low.refresh_from_db()
    high.refresh_from_db()
    assert high.started_at < low.started_at


@pytest.fixture
def s3_server(tmp_path):
    served = tmp_path / "s3"
    (served / "bucket1").mkdir(parents=True)
    port = free_port()
    proc = subprocess.Popen(
        [rclone.binary(), "serve", "s3", str(served), "--addr", f"127.0.0.1:{port}",
         "--auth-key", "AKIDTEST,s3-Secret-Key-99"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    assert wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 15)
    yield f"http://127.0.0.1:{port}", served
    proc.terminate()
    proc.wait(10)


def test_copy_and_move_through_rclone_serve_s3(power, make_local, s3_server):
    from jobs.presenters import remote_dict

    endpoint, served = s3_server
    _, src_root = make_local("src", {"a.txt": "alpha", "sub/b.txt": "bravo"})
    _, back_root = make_local("back")
    s3 = services.remote_create(actor=power, name="s3", type="s3", options={
        "provider": "Rclone", "endpoint": endpoint, "access_key_id": "AKIDTEST",
        "secret_access_key": "s3-Secret-Key-99"})
    assert "s3-Secret-Key-99" not in json.dumps(remote_dict(s3))
    up = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                             destination={"remote": "s3", "path": "/bucket1/up"})
    assert tasks.execute(up.id) == "completed"
    assert tree(served) == {"bucket1/up/a.txt": b"alpha", "bucket1/up/sub/b.txt": b"bravo"}
    down = services.job_submit(actor=power, type="move", source={"remote": "s3", "path": "/bucket1/up"},
                               destination={"remote": "back", "path": "/"})
    assert tasks.execute(down.id) == "completed"
    assert tree(back_root) == {"a.txt": b"alpha", "sub/b.txt": b"bravo"}
    assert tree(served) == {}
    assert "s3-Secret-Key-99" not in json.dumps(list(JobLog.objects.values("message", "details")))
