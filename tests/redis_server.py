"""A throwaway real Redis for tests that must stop Redis without touching
the shared one: on a Unix socket, or, given a ``host`` (tests/netns.py), on
that host's address and a TCP port."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from config.embedded import _redis_server_binary
from tests.netns import Host
from tests.processes import free_port


class ThrowawayRedis:
    def __init__(self, directory: Path, host: Host | None = None):
        self.dir, self.host = directory, host
        self.sock = directory / "redis.sock"
        self.port = free_port() if host else 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host.address}:{self.port}/0" if self.host else f"unix://{self.sock}"

    def _reachable(self) -> None:
        if self.host:
            socket.create_connection((self.host.address, self.port), timeout=1).close()
        else:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.sock))

    def start(self) -> "ThrowawayRedis":
        listen = (["--bind", self.host.address, "--port", str(self.port), "--protected-mode", "no"] if self.host
                  else ["--port", "0", "--unixsocket", str(self.sock)])
        argv = [str(_redis_server_binary()), *listen, "--dir", str(self.dir), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(self.host.command(argv) if self.host else argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self._reachable()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
