"""Benchmark: rclone jobs through the job system vs. bare rclone.

In one run it prints:

- throughput of a copy of ``--size-mb`` (default 1024 MB) as many small files
  and as one large file, through the job system (submit -> warm Celery worker
  -> rclone -> completed) next to bare ``rclone copy`` of the same data, best
  of ``--trials`` with the order alternating and ``sync`` before each run;
  target: job system >= 0.95x bare. Also the median of each trial's ratio
  (its two runs are neighbours in time). A third row repeats the small files with
  the job option ``verbose`` (a stored log line per file), which bare rclone
  has no counterpart for;
- dispatch latency, submit (the service call behind POST /api/v1/jobs/) to
  the job's claim right before rclone is started (``started_at``), p50 over
  ``--dispatch-samples`` jobs with a warm worker; target < 300 ms;
- cancel latency: cancel a bandwidth-limited running copy, time until the
  job row says ``cancelled`` (rclone gone);
- fault recovery, ``--fault-trials`` times each (``--only faults`` runs just
  these): SIGKILL of the pool process running a job to the job leaving
  ``running`` (seen from its heartbeat by the real beat sweep, re-queued),
  against the documented worst case JOBS_STALE_SECONDS +
  JOBS_STALE_SWEEP_SECONDS; pg_terminate_backend() of the runner's backend to
  its next heartbeat written (the runner reconnected); and a 3 s outage
  (the database refusing connections) to the first heartbeat after it.

A scratch database (<DATABASE name>_bench_jobs) is created and dropped; a
real ``celery -A config worker`` subprocess runs the jobs. Data lives in a
temporary directory (needs about 4x ``--size-mb`` of disk).

    .venv/bin/python bench/jobs.py [--size-mb 1024] [--small-kb 256] [--dispatch-samples 20]
                                   [--fault-trials 3] [--only faults]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("REDIS_KEY_PREFIX", f"bench-jobs-{os.getpid()}")


def make_data(root: Path, size_mb: int, small_kb: int) -> None:
    small = root / "small"
    small.mkdir(parents=True)
    chunk = os.urandom(small_kb * 1024)
    for i in range(max(1, size_mb * 1024 // small_kb)):
        (small / f"d{i // 256:03d}").mkdir(exist_ok=True)
        (small / f"d{i // 256:03d}" / f"f{i:06d}.bin").write_bytes(chunk)
    large = root / "large"
    large.mkdir()
    block = os.urandom(1024 * 1024)
    with open(large / "one.bin", "wb") as fh:
        for _ in range(size_mb):
            fh.write(block)


def wait_status(job_id, statuses, timeout=3600, every=0.01):
    """Poll the job row until its status is one of ``statuses``. Throughput
    runs poll slowly (``every``) and take their time from the row's
    completed_at, so the waiting neither steals the CPU rclone needs nor
    rounds the figure up to a polling tick."""
    from jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Job.objects.filter(id=job_id, status__in=statuses).exists():
            return Job.objects.get(id=job_id)
        time.sleep(every)
    raise TimeoutError(f"job {job_id} not {statuses}")


def worker_cpu(worker: subprocess.Popen) -> float:
    """CPU seconds the Celery worker's own processes used (not rclone's)."""
    import psutil

    main = psutil.Process(worker.pid)
    return sum(sum(p.cpu_times()[:2]) for p in [main, *main.children()] if p.name() != "rclone")


def start_worker(db_name: str, log_path: Path, local_root: Path, *, beat: bool = False) -> subprocess.Popen:
    from django.conf import settings
    from django.db import connection

    from config.embedded import postgres_url

    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env.update({
        "DATABASE_URL": postgres_url(host=db["HOST"], port=db["PORT"], name=db_name, user=db["USER"],
                                     password=db.get("PASSWORD") or ""),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "RCLONE_LOCAL_ROOTS": str(local_root),
        "JOBS_RUN_DIR_ROOT": str(local_root / "runs"),
        "DEBUG": "1",
    })
    name = "bench-beat" if beat else "bench"
    extra = ["-B", "-s", str(log_path.with_suffix(".beat-schedule"))] if beat else []
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1", "--prefetch-multiplier",
         "1", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING", "-n", f"{name}@%h",
         *extra],
        cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def db_now():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")  # the clock heartbeat_at is written with
        return cursor.fetchone()[0]


def runner_pid(marker: str) -> int:
    """The pool process running the job: the parent of its rclone."""
    import psutil

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for p in psutil.process_iter(["name", "cmdline"]):
            if p.info["name"] == "rclone" and any(marker in a for a in p.info["cmdline"] or []):
                return p.ppid()
        time.sleep(0.05)
    raise TimeoutError("no rclone for " + marker)


def next_heartbeat_after(job_id, moment, timeout=60) -> float:
    """Seconds from ``moment`` (database clock) to the job's first heartbeat after it."""
    from jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = Job.objects.filter(id=job_id).values_list("heartbeat_at", flat=True).first()
        if beat and beat > moment:
            return (beat - moment).total_seconds()
        time.sleep(0.02)
    raise TimeoutError("no heartbeat")


def measure_faults(user, work: Path, db_name: str, trials: int) -> None:
    from django.conf import settings
    from django.db import connection

    from jobs import services
    from jobs.models import Job
    from jobs.reporter import application_name

    (work / "src" / "fault").mkdir(parents=True, exist_ok=True)
    (work / "src" / "fault" / "f.bin").write_bytes(os.urandom(3_000_000))
    runner = start_worker(db_name, work / "fault-worker.log", work)
    sweeper = start_worker(db_name, work / "fault-beat.log", work, beat=True)
    try:
        def submit(i, what, bwlimit="300K"):
            return services.job_submit(actor=user, type="copy", source={"remote": "src", "path": "/fault"},
                                       destination={"remote": "job", "path": f"/{what}{i}"},
                                       options={"bwlimit": bwlimit}, max_retries=5)

        killed = []
        for i in range(trials):
            job = submit(i, "kill")
            wait_status(job.id, {"running"}, timeout=120)
            pid = runner_pid(f"job:kill{i}")
            time.sleep(1)
            os.kill(pid, signal.SIGKILL)
            t0 = time.monotonic()
            while Job.objects.filter(id=job.id, status="running", retry_count=0).exists():
                time.sleep(0.05)
            killed.append(time.monotonic() - t0)
            services.job_cancel(actor=user, job=Job.objects.get(id=job.id))
            wait_status(job.id, {"cancelled", "completed", "failed"}, timeout=120)
        worst = settings.JOBS_STALE_SECONDS + settings.JOBS_STALE_SWEEP_SECONDS
        print(f"\nSIGKILL of the runner's pool process -> job re-queued: min {min(killed):.1f} s, "
              f"median {statistics.median(killed):.1f} s, max {max(killed):.1f} s (n={trials}; "
              f"worst case {worst} s = stale {settings.JOBS_STALE_SECONDS} + sweep {settings.JOBS_STALE_SWEEP_SECONDS})")

        job = submit(0, "terminate", "100K")  # 30 s: it outlasts the trials
        wait_status(job.id, {"running"}, timeout=120)
        next_heartbeat_after(job.id, db_now())
        recovered = []
        for _ in range(trials):
            with connection.cursor() as cursor:
                cursor.execute("SELECT now(), count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = %s AND datname = current_database()",
                               [application_name(job.id)])
                moment, count = cursor.fetchone()
            if count:
                recovered.append(next_heartbeat_after(job.id, moment))
            time.sleep(1)
        print(f"pg_terminate_backend(runner) -> next heartbeat written: "
              f"median {statistics.median(recovered):.2f} s, max {max(recovered):.2f} s (n={len(recovered)}; "
              f"heartbeat every {settings.JOBS_HEARTBEAT_SECONDS} s, progress every 1 s)")

        # The same fault the test suite injects: the database refusing new
        # connections, the runner's own one terminated.
        from tests.jobs.faults import database_refusing_connections, terminate_runner_backends

        services.job_cancel(actor=user, job=job)
        job = submit(0, "outage", "100K")
        wait_status(job.id, {"running"}, timeout=120)
        next_heartbeat_after(job.id, db_now())
        after_outage = []
        for _ in range(trials):
            with database_refusing_connections():
                terminate_runner_backends(job.id)
                time.sleep(3)
                moment = db_now()
            after_outage.append(next_heartbeat_after(job.id, moment))
            time.sleep(1)
        print(f"3 s outage (connections refused) -> first heartbeat after it: "
              f"median {statistics.median(after_outage):.2f} s, max {max(after_outage):.2f} s (n={trials}; "
              f"reconnection backoff capped at 1 s)")
        services.job_cancel(actor=user, job=job)
        wait_status(job.id, {"completed", "failed", "cancelled"}, timeout=60)
    finally:
        for proc in (runner, sweeper):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def measure_throughput(args, user, work: Path, worker: subprocess.Popen) -> None:
    """Throughput vs. bare rclone, dispatch latency and cancel latency."""
    from django.utils import timezone

    from jobs import rclone, services

    src, dst_bare, dst_job = work / "src", work / "bare", work / "job"
    dst_bare.mkdir()

    # Warm the worker with a tiny job.
    (src / "warm.txt").write_text("warm")
    warm = services.job_submit(actor=user, type="copy", source={"remote": "src", "path": "/warm.txt"},
                               destination={"remote": "job", "path": "/warm"})
    wait_status(warm.id, {"completed", "failed"}, timeout=120)

    print(f"\n{'case':<22}{'bare rclone':>16}{'job system':>16}{'ratio':>8}   (best of {args.trials}, order alternating)")
    # The last row: the same small files with the ``verbose`` option (a
    # log line per file, stored), for what that option costs.
    for case, options, label in (("small", {}, "small files"), ("large", {}, "large file"),
                                 ("small", {"verbose": True}, "small, verbose")):
        bare_times, job_times, parts = [], [], []
        for trial in range(args.trials):
            order = ("bare", "job") if trial % 2 == 0 else ("job", "bare")
            for who in order:
                target = (dst_bare if who == "bare" else dst_job) / case
                shutil.rmtree(target, ignore_errors=True)
                os.sync()  # no write-back of the previous run is charged to this one
                t0, t0_wall = time.monotonic(), timezone.now()
                if who == "bare":
                    subprocess.run([rclone.binary(), "--config", "/dev/null", "copy", str(src / case), str(target)],
                                   check=True, env={"PATH": "/usr/bin:/bin", "HOME": str(work)})
                    bare_times.append(time.monotonic() - t0)
                else:
                    cpu0 = worker_cpu(worker)
                    job = services.job_submit(actor=user, type="copy", source={"remote": "src", "path": f"/{case}"},
                                              destination={"remote": "job", "path": f"/{case}"},
                                              options=options)
                    job = wait_status(job.id, {"completed", "failed"}, every=0.25)
                    assert job.status == "completed", job.error
                    job_times.append((job.completed_at - t0_wall).total_seconds())
                    rclone_s = float(job.result.get("elapsed") or 0)
                    parts.append(((job.started_at - t0_wall).total_seconds(), rclone_s,
                                  (job.completed_at - job.started_at).total_seconds() - rclone_s,
                                  worker_cpu(worker) - cpu0))
        bare, through_jobs = min(bare_times), min(job_times)
        mb = args.size_mb
        print(f"{label:<22}{mb / bare:>11.1f} MB/s{mb / through_jobs:>11.1f} MB/s"
              f"{bare / through_jobs:>8.2f}")
        best = parts[job_times.index(through_jobs)]
        print(f"{'':<22}best job run: {best[0] * 1000:.0f} ms to start, rclone's own {best[1]:.2f} s, "
              f"{best[2] * 1000:.0f} ms around it, worker CPU {best[3] * 1000:.0f} ms")
        # Each trial's two runs are neighbours in time: their ratio is
        # spared most of the machine's drift, which moves single runs ±5%.
        paired = statistics.median(b / j for b, j in zip(bare_times, job_times))
        print(f"{'':<22}median ratio {statistics.median(bare_times) / statistics.median(job_times):.2f}, "
              f"median of each trial's ratio {paired:.2f}")

    latencies = []
    for i in range(args.dispatch_samples):
        job = services.job_submit(actor=user, type="copy", source={"remote": "src", "path": "/warm.txt"},
                                  destination={"remote": "job", "path": f"/d{i}"})
        job = wait_status(job.id, {"running", "completed", "failed"}, timeout=60)
        latencies.append((job.started_at - job.created_at).total_seconds() * 1000)
        wait_status(job.id, {"completed", "failed"}, timeout=60)
    print(f"\ndispatch (submit -> claim before rclone start), warm worker: "
          f"p50 {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms (n={len(latencies)})")

    job = services.job_submit(actor=user, type="copy", source={"remote": "src", "path": "/large"},
                              destination={"remote": "job", "path": "/cancelled"}, options={"bwlimit": "1M"})
    wait_status(job.id, {"running"}, timeout=60)
    time.sleep(1.5)
    t0 = time.monotonic()
    services.job_cancel(actor=user, job=job)
    wait_status(job.id, {"cancelled", "completed", "failed"}, timeout=30)
    print(f"cancel latency (request -> cancelled, rclone gone): {(time.monotonic() - t0) * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--small-kb", type=int, default=256)
    parser.add_argument("--dispatch-samples", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--fault-trials", type=int, default=3)
    parser.add_argument("--only", choices=["faults"], help="only the fault recovery figures (no data to make)")
    parser.add_argument("--dir", help="where to put the data (default: the system's temporary directory; "
                                      "a tmpfs such as /dev/shm takes the disk's noise out)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="teamhub-bench-jobs-", dir=args.dir))
    os.environ["RCLONE_LOCAL_ROOTS"] = str(work)

    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    db.setdefault("TEST", {})["NAME"] = f"{db['NAME']}_bench_jobs"
    django.setup()

    from django.db import connection

    from accounts.services import user_create
    from jobs import services

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    worker = None
    try:
        src, dst_job = work / "src", work / "job"
        for d in (src, dst_job):
            d.mkdir()
        user = user_create(username="bench", email="bench@example.com", password="bench-password-1", role="admin")
        services.remote_create(actor=user, name="src", type="local", options={"root": str(src)})
        services.remote_create(actor=user, name="job", type="local", options={"root": str(dst_job)})
        if args.only != "faults":
            print(f"making {args.size_mb} MB twice (small files of {args.small_kb} KB, one large file) in {work}")
            make_data(src, args.size_mb, args.small_kb)
            worker = start_worker(connection.settings_dict["NAME"], work / "worker.log", work)
            measure_throughput(args, user, work, worker)
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
            worker = None
        measure_faults(user, work, connection.settings_dict["NAME"], args.fault_trials)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
