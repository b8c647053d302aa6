import os

import pytest
from django.test import override_settings

from jobs import services


@pytest.fixture(scope="session", autouse=True)
def run_dir_root(tmp_path_factory):
    """This test run's own root for rclone run directories (each xdist
    worker has its own base temp): whatever other workloads keep in the
    system's temporary directory, a test sees only this run's directories.
    Workers the tests start get it through their environment."""
    root = tmp_path_factory.mktemp("rclone-runs")
    with override_settings(JOBS_RUN_DIR_ROOT=str(root)):
        yield root


@pytest.fixture
def roots(tmp_path, settings):
    """Local remotes may live under tmp_path/allowed only."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    settings.RCLONE_LOCAL_ROOTS = [str(allowed)]
    settings.JOBS_RETRY_BASE_SECONDS = 1
    # rclone's default 10 low-level retries with backoff take minutes against a closed port.
    settings.RCLONE_LOW_LEVEL_RETRIES = 1
    return allowed


@pytest.fixture
def power(make_user):
    return make_user("power", role="power_user")


@pytest.fixture
def make_local(roots, power):
    """A local remote rooted at roots/<name>, created by the power user."""

    def make(name, files=None, *, actor=None):
        root = roots / name
        root.mkdir(exist_ok=True)
        for rel, content in (files or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        remote = services.remote_create(actor=actor or power, name=name, type="local", options={"root": str(root)})
        return remote, root

    return make


def tree(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = open(full, "rb").read()
    return out


def deliver_concurrently(job_id, times: int = 2) -> list[str]:
    """Run the job's Celery task body ``times`` at once, as a broker that
    delivers a task twice would; returns each delivery's result."""
    import threading

    from django.db import connection

    from jobs import tasks

    results = []

    def deliver():
        try:
            results.append(tasks.execute(job_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
