"""The README's run command, for real: embedded PostgreSQL and Redis, the ASGI
server, a Celery worker and beat; then Ctrl-C leaves nothing behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


class Launcher:
    def __init__(self, var_dir: str, port: int):
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "REDIS_KEY_PREFIX", "PYTEST_XDIST_WORKER"}}
        env.update(VAR_DIR=var_dir, PORT=str(port), PYTHONUNBUFFERED="1")
        self.port = port
        self.lines: list[str] = []
        # Its own process group, like a shell job: Ctrl-C goes to the whole group.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "config.launcher", "run"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout=240) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"launcher exited early:\n{self.output}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as r:
                    last = json.load(r)
                    if r.status == 200 and last.get("celery") == "ok":
                        return last
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"not ready in {timeout}s (last: {last}):\n{self.output}")

    def ctrl_c(self) -> tuple[float, list[psutil.Process]]:
        family = psutil.Process(self.proc.pid).children(recursive=True)
        assert len(family) >= 3, family  # web, worker (+ its pool), beat
        start = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=60)
        return time.monotonic() - start, family


def _alive(procs):
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _embedded_server_processes(var_dir: str):
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if var_dir in cmd:
            found.append(p)
    redis_pid = Path(var_dir, "redis", "redis.pid")
    if redis_pid.exists() and psutil.pid_exists(int(redis_pid.read_text())):
        found.append(psutil.Process(int(redis_pid.read_text())))
    return _alive(found)


def test_run_command_serves_ready_and_ctrl_c_stops_everything():
    # A short path: the embedded Redis socket must fit in sun_path.
    var_dir = tempfile.mkdtemp(prefix="th-run-", dir="/tmp")
    try:
        first = Launcher(var_dir, free_port())
        ready = first.wait_ready()
        assert ready.pop("channel_layer_overloads")["behind"] == 0
        assert ready == {"database": "ok", "redis": "ok", "channel_layer": "ok", "celery": "ok", "replicas": {}}
        assert "Created the demo superuser 'admin' with password:" in first.output
        assert f"http://localhost:{first.port}/" in first.output
        with urllib.request.urlopen(f"http://127.0.0.1:{first.port}/accounts/login/") as r:
            assert r.status == 200

        elapsed, family = first.ctrl_c()
        assert elapsed < 30, first.output
        assert first.proc.returncode == 0, first.output
        assert _alive(family) == []
        assert _embedded_server_processes(var_dir) == []

        # Again: the same data, and the password is not shown a second time.
        second = Launcher(var_dir, free_port())
        second.wait_ready()
        assert "password" not in second.output
        elapsed, family = second.ctrl_c()
        assert elapsed < 30
        assert _alive(family) == [] and _embedded_server_processes(var_dir) == []
    finally:
        for launcher in [v for k, v in locals().items() if k in {"first", "second"}]:
            if launcher.proc.poll() is None:
                os.killpg(launcher.proc.pid, signal.SIGKILL)
        # Never leave embedded servers running, even when an assertion failed.
        subprocess.run([sys.executable, "-m", "config.launcher", "stop"], cwd=ROOT,
                       env={**os.environ, "VAR_DIR": var_dir}, timeout=60, check=False)
        shutil.rmtree(var_dir, ignore_errors=True)
