"""Real processes: a `celery -A config worker` subprocess against the test
database, killed mid-job for crash recovery; and `rclone serve webdav` on
loopback as a remote with a password."""

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
from tests.processes import child_env, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def start_worker(tmp_path, name):
    env = child_env(RCLONE_LOCAL_ROOTS=",".join(settings.RCLONE_LOCAL_ROOTS), DEBUG="1")
    log = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1", "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--prefetch-multiplier", "1", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return proc


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def rclone_processes(marker):
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] == "rclone" and any(marker in arg for arg in p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found


def test_worker_runs_job_and_recovers_after_being_killed_mid_job(power, make_local, tmp_path):
    make_local("crashsrc", {"big.bin": os.urandom(600_000), "small.txt": "s"})
    _, dst_root = make_local("crashdst")
    worker = start_worker(tmp_path, "w1")
    try:
        job = services.job_submit(actor=power, type="copy", source={"remote": "crashsrc", "path": "/"},
                                  destination={"remote": "crashdst", "path": "/"}, options={"bwlimit": "150K"})
        running = wait_for(lambda: Job.objects.get(id=job.id).status == "running", 60)
        assert running, (tmp_path / "w1.log").read_text()[-3000:]
        assert wait_for(lambda: rclone_processes("crashsrc:"), 10)
        time.sleep(1)
    finally:
        stop(worker)  # SIGKILL the whole worker: no chance to clean up
    # The kernel takes rclone down with its parent (PR_SET_PDEATHSIG).
    assert wait_for(lambda: not rclone_processes("crashsrc:"), 5)
    # Its config file could not be removed by the dead worker; the next run sweeps it.
    import tempfile

    orphans = list(Path(tempfile.gettempdir()).glob(f"{rclone.RUN_DIR_PREFIX}*-*"))
    assert orphans

    def swept():
        with rclone.RunDir([]):
            pass
        return not any(p.exists() for p in orphans)

    assert wait_for(swept, 5)
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
    assert sorted(tree(dst_root)) == ["big.bin", "small.txt"]


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
