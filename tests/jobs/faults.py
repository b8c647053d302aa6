"""Real faults for the jobs tests: the runner's own PostgreSQL backends
terminated, this test database refusing new connections (an outage that
lasts), and a watch on the rclone processes of this test run."""

from __future__ import annotations

import contextlib
import threading
import time

import psutil
import psycopg
from django.conf import settings
from django.db import connection

from jobs.reporter import application_name


def terminate_runner_backends(job_id) -> int:
    """pg_terminate_backend() on the backends the job's runner opened (known
    by their application_name, in this test database only); how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database() AND pid <> pg_backend_pid()",
            [application_name(job_id)])
        return cursor.fetchone()[0]


@contextlib.contextmanager
def database_refusing_connections():
    """This test database accepts no new connection (superusers included)
    until the block ends; open connections, the test's own among them, stay.
    (PostgreSQL takes the order from a session on another database.)"""
    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    params = {**connection.get_connection_params(), "dbname": "postgres"}
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
        try:
            yield
        finally:
            admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")


def rclone_processes(marker: str) -> list[psutil.Process]:
    """Live rclone processes of this test run whose arguments mention
    ``marker`` (e.g. ``"src:"``). Every rclone of ours has its config in this
    run's JOBS_RUN_DIR_ROOT, so another workload's rclone never counts."""
    root = str(settings.JOBS_RUN_DIR_ROOT)
    found = []
    for p in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            args = p.info["cmdline"] or []
            if (p.info["name"] == "rclone" and p.info["status"] != psutil.STATUS_ZOMBIE
                    and any(root in a for a in args) and any(marker in a for a in args)):
                found.append(p)
        except psutil.Error:
            pass
    return found


class RcloneWatch(threading.Thread):
    """Samples rclone_processes(marker) until stopped: the most seen at once
    and every pid seen (to show one job never had two)."""

    def __init__(self, marker: str, interval: float = 0.05):
        super().__init__(daemon=True)
        self.marker, self.interval = marker, interval
        self.most, self.pids = 0, set()
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            found = rclone_processes(self.marker)
            self.most = max(self.most, len(found))
            self.pids.update(p.pid for p in found)
            time.sleep(self.interval)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(5)
