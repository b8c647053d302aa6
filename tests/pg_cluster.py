"""A throwaway PostgreSQL primary with hot standbys, from the pgserver
wheel's own binaries (initdb, pg_ctl, pg_basebackup): no system PostgreSQL.

The tests that need a real streaming replica start one here, on free
loopback ports, in a directory of their own, and stop it afterwards. As
root, the servers run as pgserver's own system user (PostgreSQL refuses to
run as root), as config/embedded.py's server does."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import psycopg

from tests.netns import LOOPBACK, Host
from tests.processes import ROOT, free_port

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@functools.lru_cache(maxsize=1)
def _bin_dir() -> Path:
    """The wheel's binaries; as root, a copy the servers' own user can reach
    (a venv may sit under a directory private to root, as in a fresh clone
    made with ``mktemp -d``). The binaries find their libraries through
    ``$ORIGIN/../../../pgserver.libs``, so the copy keeps that layout."""
    import pgserver._commands

    installed = Path(pgserver._commands.POSTGRES_BIN_PATH)
    if os.geteuid() != 0:
        return installed
    root = Path(tempfile.gettempdir()) / f"teamhub-pgserver-{os.getpid()}"
    site = installed.parents[2]  # site-packages: pgserver/pginstall/bin
    if not root.exists():
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        shutil.copytree(installed.parent, root / "pgserver" / installed.parent.name, symlinks=True)
        if (site / "pgserver.libs").is_dir():
            shutil.copytree(site / "pgserver.libs", root / "pgserver.libs", symlinks=True)
        for path in [root, *root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
    return root / "pgserver" / installed.parent.name / installed.name


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


# Migrated data directories (Cluster.migrated_primary), kept between runs.
TEMPLATES = Path(tempfile.gettempdir()) / "teamhub-pg-templates"


def _schema_key() -> str:
    """What the migrated schema depends on: every migration, the partition
    code they run, the server's version, and the month (the partitions are
    created around the current one)."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("*/migrations/*.py"), ROOT / "core" / "partitions.py"]):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    digest.update(version("pgserver").encode())
    digest.update(datetime.now(timezone.utc).strftime("%Y-%m").encode())
    return digest.hexdigest()[:20]


class Node:
    """One server: the primary or a standby."""

    def __init__(self, cluster: "Cluster", name: str):
        self.cluster, self.name = cluster, name
        self.data = cluster.dir / name
        self.port = free_port()

    @property
    def address(self) -> str:
        return self.cluster.host.address

    def _run(self, exe: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        argv, user = [str(_bin_dir() / exe), *args], self.cluster.user
        if self.cluster.host.netns:
            # Into the host's namespace first (root only), then as the servers' user.
            if user:
                argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *argv]
            argv, user = self.cluster.host.command(argv), None
        return subprocess.run(argv, user=user, check=check, timeout=timeout, capture_output=True, text=True,
                              cwd=self.cluster.dir)

    def start(self) -> "Node":
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l", str(self.cluster.dir / f"{self.name}.log"),
                  "-o", f"-p {self.port} -k {self.data} -c listen_addresses={self.address}", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop", check=False)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, dbname: str = "teamhub") -> str:
        return f"postgres://postgres@{self.address}:{self.port}/{dbname}"

    def connect(self, dbname: str = "teamhub", **kwargs) -> psycopg.Connection:
        return psycopg.connect(host=self.address, port=self.port, user="postgres", dbname=dbname, autocommit=True,
                               connect_timeout=5, **kwargs)

    def sql(self, query: str, params=None, dbname: str = "teamhub"):
        with self.connect(dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else None


class Cluster:
    """``primary`` plus ``standbys``; every node under one temporary directory.
    ``host``: where the servers run and listen (tests/netns.py), and
    ``clients``: the network (CIDR) they trust besides it."""

    def __init__(self, host: Host = LOOPBACK, clients: str | None = None):
        self.host, self.clients = host, clients
        self.user = _system_user()
        # Not pytest's tmp_path: its parents are private to root, and the
        # servers run as another user.
        self.dir = Path(tempfile.mkdtemp(prefix="teamhub-pg-"))
        self.dir.chmod(0o755)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.primary = Node(self, "primary")
        self.standbys: list[Node] = []

    def init_primary(self) -> Node:
        p = self.primary
        p._run("initdb", "-D", str(p.data), "--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres")
        with open(p.data / "postgresql.conf", "a") as conf:
            conf.write("\n# teamhub test cluster\nwal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n"
                       "wal_keep_size = '256MB'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\n")
        self._trust(p)
        p.start()
        p.sql("CREATE DATABASE teamhub", dbname="postgres")
        return p

    def migrated_primary(self, env: dict) -> Node:
        """The primary with the project's schema: a copy of a data directory
        migrated once (TEMPLATES, keyed by the migrations), so each test
        that needs a cluster does not spend a minute on ``migrate``. ``env``:
        the environment ``manage.py migrate`` runs in (child_env())."""
        TEMPLATES.mkdir(exist_ok=True)
        template = TEMPLATES / _schema_key()
        with open(TEMPLATES / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and copy
            if not template.exists():
                primary = self.init_primary()
                migrate = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT,
                                         env={**env, "DATABASE_URL": primary.url()}, capture_output=True, text=True,
                                         timeout=600)
                assert migrate.returncode == 0, migrate.stderr[-3000:]
                primary.stop()
                for old in TEMPLATES.iterdir():
                    if old.is_dir():
                        shutil.rmtree(old, ignore_errors=True)
                subprocess.run(["cp", "-a", str(primary.data), str(template) + ".part"], check=True)
                os.rename(str(template) + ".part", template)
                return primary.start()
        p = self.primary
        subprocess.run(["cp", "-a", str(template), str(p.data)], check=True)
        self._trust(p)
        return p.start()

    def _trust(self, p: Node) -> None:
        with open(p.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host replication all {self.host.address}/32 trust\n")
            if self.clients:
                hba.write(f"host all all {self.clients} trust\nhost replication all {self.clients} trust\n")

    def add_standby(self) -> Node:
        node = Node(self, f"standby{len(self.standbys) + 1}")
        # -R writes standby.signal and primary_conninfo: a hot standby streaming from the primary.
        node._run("pg_basebackup", "-h", self.host.address, "-p", str(self.primary.port), "-U", "postgres",
                  "-D", str(node.data), "-R", "-X", "stream", "-c", "fast")
        self.standbys.append(node)
        return node.start()

    def wait_replayed(self, node: Node, timeout: float = 30) -> None:
        """Until ``node`` has replayed everything the primary has written so far."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()", dbname="postgres")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = node.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target], dbname="postgres")[0][0]
            if done:
                return
            time.sleep(0.1)
        raise AssertionError(f"{node.name} did not replay up to {target} within {timeout}s")

    def close(self) -> None:
        for node in [*self.standbys, self.primary]:
            with contextlib.suppress(Exception):
                node.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self, node: Node) -> str:
        path = self.dir / f"{node.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
