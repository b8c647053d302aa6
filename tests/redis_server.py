"""A throwaway real Redis for tests that must stop Redis without touching the shared one."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from config.embedded import _redis_server_binary


class ThrowawayRedis:
    def __init__(self, directory: Path):
        self.dir = directory
        self.sock = directory / "redis.sock"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def start(self) -> "ThrowawayRedis":
        self.proc = subprocess.Popen(
            [str(_redis_server_binary()), "--port", "0", "--unixsocket", str(self.sock),
             "--dir", str(self.dir), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(self.sock))
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
