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
  job row says ``cancelled`` (rclone gone).

A scratch database (<DATABASE name>_bench_jobs) is created and dropped; a
real ``celery -A config worker`` subprocess runs the jobs. Data lives in a
temporary directory (needs about 4x ``--size-mb`` of disk).

    .venv/bin/python bench/jobs.py [--size-mb 1024] [--small-kb 256] [--dispatch-samples 20]
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


def start_worker(db_name: str, log_path: Path, local_root: Path) -> subprocess.Popen:
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
        "DEBUG": "1",
    })
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1", "--prefetch-multiplier",
         "1", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING", "-n", "bench@%h"],
        cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--small-kb", type=int, default=256)
    parser.add_argument("--dispatch-samples", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
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
    from django.utils import timezone

    from accounts.services import user_create
    from jobs import rclone, services

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    worker = None
    try:
        src, dst_bare, dst_job = work / "src", work / "bare", work / "job"
        print(f"making {args.size_mb} MB twice (small files of {args.small_kb} KB, one large file) in {work}")
        make_data(src, args.size_mb, args.small_kb)
        for d in (dst_bare, dst_job):
            d.mkdir()
        user = user_create(username="bench", email="bench@example.com", password="bench-password-1", role="admin")
        services.remote_create(actor=user, name="src", type="local", options={"root": str(src)})
        services.remote_create(actor=user, name="job", type="local", options={"root": str(dst_job)})
        worker = start_worker(connection.settings_dict["NAME"], work / "worker.log", work)

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
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
