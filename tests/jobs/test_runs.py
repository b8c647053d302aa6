"""Jobs run end to end: real rclone against local directories, the worker's
task body (jobs.execution.execute, as jobs.tasks.execute) in-process, real PostgreSQL and Redis."""

import os
import subprocess
import sys
import threading
import time

import psutil
import pytest
from django.db import connection

from audit.models import AuditLog
from jobs import figures, services, tasks
from jobs.models import Job, JobLog
from jobs.runner import LineReader
from tests.jobs.conftest import deliver_concurrently, tree

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"a.txt": "alpha", "sub/b.txt": "bravo", "sub/deep/c.txt": "charlie"}


def submit(actor, type, src, dst=None, **kwargs):
    return services.job_submit(
        actor=actor,
        type=type,
        source={"remote": src, "path": kwargs.pop("src_path", "/")},
        destination={"remote": dst, "path": kwargs.pop("dst_path", "/")} if dst else None,
        **kwargs,
    )


def test_copy_copies_every_file_and_reaches_100(power, make_local):
    _, src_root = make_local("src", FILES)
    _, dst_root = make_local("dst")
    job = submit(power, "copy", "src", "dst")
    assert job.status == "queued"

    assert tasks.execute(job.id) == "completed"

    job.refresh_from_db()
    assert tree(dst_root) == {k: v.encode() for k, v in FILES.items()}
    assert tree(src_root) == tree(dst_root)  # copy leaves the source alone
    assert job.progress == 100
    assert job.result["transfers"] == 3
    assert job.started_at and job.completed_at and job.worker
    actions = list(AuditLog.objects.filter(resource_id=str(job.id)).order_by("created_at").values_list("action", flat=True))
    assert actions == ["job.created", "job.started", "job.completed"]


def test_a_log_line_per_file_only_with_the_verbose_option(power, make_local):
    make_local("src", FILES)
    make_local("dst")
    quiet = submit(power, "copy", "src", "dst", dst_path="/quiet")
    verbose = submit(power, "copy", "src", "dst", dst_path="/verbose", options={"verbose": True})
    assert tasks.execute(quiet.id) == "completed" and tasks.execute(verbose.id) == "completed"

    def copied(job):
        return sorted(line.details["object"] for line in JobLog.objects.filter(job=job, message__contains="Copied"))

    assert copied(quiet) == []
    assert copied(verbose) == sorted(FILES)
    # Each per-file line names its file, as the page shows the message alone.
    assert sorted(JobLog.objects.filter(job=verbose, message__contains="Copied").values_list("message", flat=True)) \
        == [f"{name}: Copied (new)" for name in sorted(FILES)]
    # A dry run lists what it would do without the option (rclone's notices).
    dry = submit(power, "copy", "src", "dst", dst_path="/dry", options={"dry_run": True})
    assert tasks.execute(dry.id) == "completed"
    skipped = {line.details.get("object") for line in JobLog.objects.filter(job=dry, message__contains="dry-run")}
    assert skipped >= set(FILES)


def test_every_run_logs_its_command_and_ends_with_a_summary(power, make_local):
    make_local("src", FILES)
    make_local("dst")
    job = submit(power, "copy", "src", "dst", dst_path="/out", options={"bwlimit": "1M"})
    assert tasks.execute(job.id) == "completed"
    lines = list(JobLog.objects.filter(job=job).order_by("id"))
    start, end = lines[0], lines[-1]
    assert start.level == "info" and start.message.startswith("Started (attempt 1 of 4, worker ")
    assert start.message.endswith("rclone copy src: dst:out --use-json-log --stats 1s --stats-log-level NOTICE "
                                  "--retries 1 --low-level-retries 1 --ask-password=false --bwlimit 1M")
    assert "--config" not in start.message and "rclone.conf" not in str(start.details)
    size = sum(len(v) for v in FILES.values())
    assert end.level == "info" and end.message.startswith("Completed after ")
    assert f"3 files, {figures.size(size)}, " in end.message and "/s average, 0 errors" in end.message
    assert end.details["outcome"] == "completed" and end.details["exit_code"] == 0
    assert (end.details["files"], end.details["bytes"], end.details["errors"]) == (3, size, 0)
    assert end.details["duration_seconds"] > 0
    # duration_seconds is rounded to ms; the speed was computed before rounding.
    assert end.details["average_bytes_per_second"] == pytest.approx(size / end.details["duration_seconds"], rel=0.02, abs=1)

    failed = submit(power, "copy", "src", "dst", src_path="/missing")
    assert tasks.execute(failed.id) == "failed"
    end = JobLog.objects.filter(job=failed).order_by("id").last()
    assert end.level == "error" and end.message.startswith("Failed (rclone exited with code 3 (directory not found)")
    assert end.details["outcome"] == "failed" and end.details["errors"] >= 1

    deleted = submit(power, "delete", "src", src_path="/sub")
    assert tasks.execute(deleted.id) == "completed"
    end = JobLog.objects.filter(job=deleted).order_by("id").last()
    assert "2 deleted" in end.message and end.details["deletes"] == 2


def test_the_run_dir_sweep_removes_only_dead_owners_directories(settings):
    """Whether a run directory is an orphan is decided by its owner's flock
    (released by the kernel however the owner dies), not by the pid in its
    name: another workload's folder under the same prefix, or one whose
    owner lives, is left alone."""
    from pathlib import Path

    from jobs import rclone

    root = Path(settings.JOBS_RUN_DIR_ROOT)
    foreign = root / f"{rclone.RUN_DIR_PREFIX}1-foreign"  # no lock file: not one of ours
    foreign.mkdir(exist_ok=True)  # the run root is shared by this worker's tests
    holder = ("import fcntl, os, sys, time; d = sys.argv[1]; os.mkdir(d); "
              "fd = os.open(os.path.join(d, '.owner.lock'), os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); "
              "print('locked', flush=True); time.sleep(60)")
    owners = {}
    for name in ("alive", "killed"):
        path = root / f"{rclone.RUN_DIR_PREFIX}{name}"
        owners[name] = subprocess.Popen([sys.executable, "-c", holder, str(path)], stdout=subprocess.PIPE, text=True)
        assert owners[name].stdout.readline().strip() == "locked"
    try:
        owners["killed"].kill()
        owners["killed"].wait()
        removed = rclone.sweep_orphan_run_dirs()
        assert removed == [root / f"{rclone.RUN_DIR_PREFIX}killed"]
        assert foreign.exists() and (root / f"{rclone.RUN_DIR_PREFIX}alive").exists()
    finally:
        owners["alive"].kill()
        owners["alive"].wait()
    assert rclone.sweep_orphan_run_dirs() == [root / f"{rclone.RUN_DIR_PREFIX}alive"]
    # A run makes its directory under the root, locked, and removes it afterwards.
    with rclone.RunDir([]) as run_dir:
        assert run_dir.path.parent == root and rclone.sweep_orphan_run_dirs() == []
        assert oct(run_dir.path.stat().st_mode & 0o777) == "0o700"
    assert not run_dir.path.exists() and foreign.exists()


def test_move_empties_the_source(power, make_local):
    _, src_root = make_local("src", FILES)
    _, dst_root = make_local("dst")
    job = submit(power, "move", "src", "dst", src_path="/sub")
    assert tasks.execute(job.id) == "completed"
    assert tree(dst_root) == {"b.txt": b"bravo", "deep/c.txt": b"charlie"}
    assert tree(src_root) == {"a.txt": b"alpha"}


def test_sync_deletes_extra_destination_files(power, make_local):
    make_local("src", FILES)
    _, dst_root = make_local("dst", {"stale.txt": "old", "a.txt": "outdated!"})
    job = submit(power, "sync", "src", "dst")
    assert tasks.execute(job.id) == "completed"
    assert tree(dst_root) == {k: v.encode() for k, v in FILES.items()}


def test_delete_removes_files_below_the_path_only(power, make_local):
    _, root = make_local("src", FILES)
    job = submit(power, "delete", "src", src_path="/sub")
    assert tasks.execute(job.id) == "completed"
    assert tree(root) == {"a.txt": b"alpha"}


def test_backup_copies_into_a_dated_folder(power, make_local):
    make_local("src", FILES)
    _, dst_root = make_local("dst")
    job = submit(power, "backup", "src", "dst", dst_path="/backups")
    assert tasks.execute(job.id) == "completed"
    folder = job.payload["backup_folder"]
    assert folder.endswith("Z") and folder[:4].isdigit()
    assert tree(dst_root) == {f"backups/{folder}/{k}": v.encode() for k, v in FILES.items()}


def test_dry_run_changes_nothing(power, make_local):
    make_local("src", FILES)
    _, dst_root = make_local("dst")
    job = submit(power, "copy", "src", "dst", options={"dry_run": True})
    assert tasks.execute(job.id) == "completed"
    assert tree(dst_root) == {}


def test_include_and_exclude_patterns(power, make_local):
    make_local("src", {"a.txt": "1", "b.log": "2", "sub/c.txt": "3", "sub/d.txt": "4"})
    _, dst_root = make_local("dst")
    job = submit(power, "copy", "src", "dst", options={"include": ["*.txt"], "exclude": ["sub/d.txt"]})
    assert tasks.execute(job.id) == "completed"
    assert sorted(tree(dst_root)) == ["a.txt", "sub/c.txt"]


def test_deny_rules_hold_deep_inside_a_copied_tree(power, make_user, make_local):
    user = make_user("alice")
    src, _ = make_local("src", {"pub/a.txt": "a", "pub/secret/x.txt": "x", "pub/deep/er/secret/y.txt": "y",
                                "pub/deep/z.txt": "z"})
    dst, dst_root = make_local("dst")
    services.permission_grant(actor=power, remote=src, user=user, permissions=["read"],
                              path_rules=[{"path": "/pub/secret", "deny": ["read"]},
                                          {"path": "/pub/*/*/secret", "deny": ["read"]}])
    services.permission_grant(actor=power, remote=dst, user=user, permissions=["read", "write"])
    job = submit(user, "copy", "src", "dst", src_path="/pub")
    assert tasks.execute(job.id) == "completed"
    assert sorted(tree(dst_root)) == ["a.txt", "deep/z.txt"]


def test_duplicate_delivery_runs_the_job_once(power, make_local):
    make_local("src", {"f.bin": os.urandom(300_000)})
    _, dst_root = make_local("dst")
    job = submit(power, "copy", "src", "dst", options={"bwlimit": "200K"})
    results = deliver_concurrently(job.id)
    # One delivery ran it; the other found nothing to claim (or it was already done).
    assert sorted(results) in (["completed", "duplicate"], ["completed", "skipped"])
    assert AuditLog.objects.filter(resource_id=str(job.id), action="job.started").count() == 1
    assert tasks.execute(job.id) == "skipped"  # a late redelivery does nothing
    assert list(tree(dst_root)) == ["f.bin"]


def rclone_children():
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "rclone"]


def test_cancel_running_bwlimited_transfer_stops_rclone_and_keeps_progress(power, make_local):
    make_local("src", {"big.bin": os.urandom(4_000_000)})
    make_local("dst")
    job = submit(power, "copy", "src", "dst", options={"bwlimit": "100K"})
    started = threading.Event()
    result = {}

    def work():
        try:
            result["status"] = tasks.execute(job.id, on_start=lambda pid: (result.setdefault("pid", pid), started.set()))
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(20)
    # Cancel mid-transfer: once some progress is recorded (the reporter
    # writes rclone's 1 s stats; on a loaded machine the first takes longer).
    deadline = time.monotonic() + 20
    while Job.objects.get(id=job.id).progress == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Job.objects.get(id=job.id).status == "running"
    assert psutil.pid_exists(result["pid"])

    t0 = time.monotonic()
    services.job_cancel(actor=power, job=job)
    while Job.objects.get(id=job.id).status != "cancelled" and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    worker.join(timeout=10)

    job.refresh_from_db()
    assert job.status == "cancelled" and job.cancelled_at is not None
    # How fast is bench/jobs.py's business; here, only that it ends.
    assert elapsed < 10, f"cancel took {elapsed:.2f}s"
    assert not psutil.pid_exists(result["pid"]) or psutil.Process(result["pid"]).status() == psutil.STATUS_ZOMBIE
    assert rclone_children() == []
    assert result["status"] == "cancelled"
    assert 0 < job.progress < 100


def test_cancel_queued_job_never_starts(power, make_local):
    make_local("src", FILES)
    _, dst_root = make_local("dst")
    job = submit(power, "copy", "src", "dst")
    services.job_cancel(actor=power, job=job)
    assert Job.objects.get(id=job.id).status == "cancelled"
    assert tasks.execute(job.id) == "skipped"
    assert tree(dst_root) == {}


def test_fatal_error_fails_at_once_without_retry(power, make_local):
    _, src_root = make_local("src", FILES)
    make_local("dst")
    job = submit(power, "copy", "src", "dst", src_path="/missing")
    assert tasks.execute(job.id) == "failed"
    job.refresh_from_db()
    assert job.retry_count == 0
    assert "code 3" in job.error and "directory not found" in job.error
    assert JobLog.objects.filter(job=job, level="error").exists()


def test_temporary_network_failure_retries_then_fails_after_max_retries(power, make_local, settings):
    from jobs.models import Remote

    services.remote_create(actor=power, name="dav", type="webdav",
                           options={"url": "http://127.0.0.1:9/", "user": "u", "pass": "pw-secret-123"})
    make_local("src", FILES)
    job = submit(power, "copy", "src", "dav", max_retries=1)
    assert tasks.execute(job.id) == "queued"  # connection refused: temporary, retried
    job.refresh_from_db()
    assert job.retry_count == 1 and "connection refused" in job.error
    assert AuditLog.objects.filter(resource_id=str(job.id), action="job.retry_scheduled").count() == 1
    assert tasks.execute(job.id) == "failed"  # no retries left
    job.refresh_from_db()
    assert job.retry_count == 1
    assert Remote.objects.filter(name="dav").exists()


def test_scheduled_for_waits_until_its_time(power, make_local):
    from datetime import timedelta

    from django.utils import timezone

    make_local("src", FILES)
    _, dst_root = make_local("dst")
    job = submit(power, "copy", "src", "dst", scheduled_for=timezone.now() + timedelta(hours=1))
    assert job.status == "pending"
    assert tasks.execute(job.id) == "deferred"  # an early delivery is put back with its eta
    assert Job.objects.get(id=job.id).status == "pending" and tree(dst_root) == {}
    Job.objects.filter(id=job.id).update(scheduled_for=timezone.now() - timedelta(seconds=1))
    assert tasks.execute(job.id) == "completed"


def test_per_remote_concurrency_limit(power, make_local, settings):
    from jobs import locks

    settings.JOBS_PER_REMOTE_CONCURRENCY = 1
    make_local("src", FILES)
    make_local("dst")
    held = locks.RemoteSlots(["dst"])
    assert held.acquire()  # another job is using the destination
    job = submit(power, "copy", "src", "dst")
    try:
        assert tasks.execute(job.id) == "busy"
        assert Job.objects.get(id=job.id).status == "queued"
    finally:
        held.release()
    assert tasks.execute(job.id) == "completed"


def test_daily_counters(power, make_local):
    from datetime import datetime, timezone

    from jobs import locks

    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    make_local("src", FILES)
    make_local("dst")
    before = locks.counter("completed", day), locks.counter("errors", day, kind="job_copy")
    assert tasks.execute(submit(power, "copy", "src", "dst").id) == "completed"
    assert tasks.execute(submit(power, "copy", "src", "dst", src_path="/nope").id) == "failed"
    after = locks.counter("completed", day), locks.counter("errors", day, kind="job_copy")
    assert after == (before[0] + 1, before[1] + 1)


def test_permission_revoked_after_submit_is_refused_at_run(power, make_user, make_local):
    user = make_user("dora")
    src, _ = make_local("src", FILES)
    dst, dst_root = make_local("dst")
    grant = services.permission_grant(actor=power, remote=src, user=user, permissions=["read"])
    services.permission_grant(actor=power, remote=dst, user=user, permissions=["read", "write"])
    job = submit(user, "copy", "src", "dst")
    services.permission_revoke(actor=power, grant=grant)
    assert tasks.execute(job.id) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("Refused at run time") and tree(dst_root) == {}


def test_line_reader_joins_chunks_into_lines_and_keeps_a_last_unterminated_one():
    script = "import sys; sys.stderr.write('a\\n' + 'b' * 200000 + '\\n\\nlast')"
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    reader, lines = LineReader(proc.stderr), []
    while not reader.eof:
        lines += reader.read(timeout=5)
    reader.close()
    proc.wait()
    assert lines == ["a", "b" * 200000, "", "last"]
