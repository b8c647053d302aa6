"""Real server processes for end-to-end tests: the project's own ASGI app
under uvicorn and Celery workers, pointed at the test database and the
test's Redis key space, on free loopback ports (or on the "hosts" of
tests/netns.py)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.embedded import postgres_url
from tests.netns import LOOPBACK, Host

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free port: from ``TEST_PORT_RANGE`` ("18100-18199") when it is set,
    for machines where each person keeps to their own ports; else any."""
    span = os.environ.get("TEST_PORT_RANGE", "").strip()
    if span:
        low, high = (int(x) for x in span.split("-", 1))
        for port in random.sample(range(low, high + 1), high - low + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in TEST_PORT_RANGE={span}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def child_env(**extra) -> dict:
    """The environment for a child process that must share this test's
    database and Redis key space."""
    db = connection.settings_dict
    env = {
        # Not PYTEST_XDIST_WORKER: settings would append it to the key prefix a second time.
        # Nor the test process's own database settings (no pool, pytest.ini):
        # child processes run with the production defaults unless told otherwise.
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("RCLONE_", "PYTEST_")) and k not in ("DB_POOL_MAX_SIZE", "DB_CONN_MAX_AGE")},
        "DATABASE_URL": postgres_url(host=db["HOST"], port=db["PORT"], name=db["NAME"], user=db["USER"],
                                     password=db.get("PASSWORD") or ""),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


class Servers(list):
    """The servers' base URLs, with their processes (``procs``, in the same
    order) for tests that kill one."""

    procs: list[subprocess.Popen]


@contextlib.contextmanager
def asgi_servers(count: int, log_dir: Path, *, application_name: str | None = None, root: Path = ROOT,
                 hosts: list[Host] | None = None, **env):
    """``count`` uvicorn processes serving config.asgi; yields their base URLs
    (a ``Servers`` list, with the processes as ``procs``). With
    ``application_name``, process i names its database connections
    ``<application_name>-<i>`` (to find its backends in pg_stat_activity).
    ``root``: the checkout whose code they run (bench/ws_fanout.py --tree).
    ``hosts``: process i runs on hosts[i] (tests/netns.py), not loopback."""
    procs, urls = [], Servers()
    urls.procs = procs
    try:
        for i in range(count):
            host = hosts[i] if hosts else LOOPBACK
            port = free_port()
            if application_name:
                env["DB_APPLICATION_NAME"] = f"{application_name}-{i}"
            log = open(log_dir / f"asgi-{i}.log", "w")
            procs.append(subprocess.Popen(host.command(
                [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", host.address, "--port", str(port),
                 "--lifespan", "off", "--no-access-log", "--ws-per-message-deflate", "false"]),
                cwd=root, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            urls.append(f"http://{host.address}:{port}")
        for proc, url in zip(procs, urls):
            if not wait_for(lambda: _healthy(url) or proc.poll() is not None, 60) or proc.poll() is not None:
                raise RuntimeError(f"uvicorn on {url} did not start; see {log_dir}")
        yield urls
    finally:
        for proc in procs:
            stop(proc)


def celery_worker(log_dir: Path, name: str, *, beat: bool = False, host: Host = LOOPBACK, **env) -> subprocess.Popen:
    """A `celery -A config worker` with one prefork pool process, in a
    process group of its own (stop it with ``stop``); ``beat``: with the beat
    embedded, so the real periodic sweeps run on their real schedule;
    ``host``: where it runs (tests/netns.py)."""
    log = open(log_dir / f"{name}.log", "w")
    extra = ["-B", "-s", str(log_dir / f"{name}-beat-schedule")] if beat else []
    return subprocess.Popen(host.command(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1", "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--prefetch-multiplier", "1", "-l", "INFO",
         *extra]),
        cwd=ROOT, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
