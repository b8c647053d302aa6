"""The README's commands, run inside the venv by dev.py.

    run   start embedded servers as needed, migrate, seed demo data, then run the
          ASGI server, a Celery worker and Celery beat until Ctrl-C
    test  run pytest (arguments pass through) against DATABASE_URL/REDIS_URL or
          the embedded servers
    stop  stop the embedded PostgreSQL and Redis
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import embedded
from config.local_secrets import persistent_secret

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
# Ctrl-C must leave nothing behind within 30 s: children get this long to exit
# on SIGTERM before they are killed.
CHILD_GRACE_SECONDS = 15


def _embedded_env() -> tuple[dict[str, str], list[str]]:
    """Environment for children, with URLs of embedded servers filled in.
    Also returns which embedded servers this call started."""
    env = dict(os.environ)
    started = []
    if not env.get("DATABASE_URL"):
        was_running = embedded.postgres_running()
        env["DATABASE_URL"] = embedded.ensure_postgres()
        if not was_running:
            started.append("postgres")
    if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):  # Sentinel: no embedded Redis
        was_running = embedded.redis_running()
        env["REDIS_URL"] = embedded.ensure_redis()
        if not was_running:
            started.append("redis")
    return env, started


def _stop_embedded(which: list[str]) -> None:
    if "redis" in which:
        embedded.stop_redis()
    if "postgres" in which:
        embedded.stop_postgres()


def _die_with_parent() -> None:
    """In a child: get SIGTERM if the launcher itself dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Each child leads its own process group, so the launcher alone receives
    # Ctrl-C and can stop children in order, including their own children.
    proc = subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent)
    proc.name = name  # type: ignore[attr-defined]
    return proc


def _stop_children(children: list[subprocess.Popen]) -> None:
    for proc in children:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + CHILD_GRACE_SECONDS
    for proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in children:
        # Kill whatever is left of each group (e.g. a worker's pool processes).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


def run() -> int:
    env, _ = _embedded_env()
    embedded_servers = [name for name, var in (("postgres", "DATABASE_URL"), ("redis", "REDIS_URL"))
                        if not os.environ.get(var) and not (name == "redis" and os.environ.get("REDIS_SENTINELS"))]
    env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or persistent_secret("secret_key", lambda: secrets.token_urlsafe(50)))
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(env)

    stop = {"requested": False}

    def request_stop(signum, frame):
        stop["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children: list[subprocess.Popen] = []
    exit_code = 0
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        # After django.setup(): the demo seeding imports the apps' models.
        from config.demo import DEMO_ADMIN, seed_demo

        call_command("compilemessages", verbosity=1)  # the translations (Babel: no gettext needed)
        call_command("migrate", interactive=False, verbosity=1)
        password = seed_demo()
        connections.close_all()
        if password:
            print(
                f"\n  Created the demo superuser '{DEMO_ADMIN}' with password: {password}\n"
                "  (shown only this once; change it in the admin)\n",
                flush=True,
            )

        children = [
            _spawn("web", [PY, "-m", "uvicorn", "config.asgi:application", "--host", settings.HOST,
                           "--port", str(settings.PORT), "--lifespan", "off", "--no-server-header",
                           # Chat frames are small: compressing each costs more CPU than it saves.
                           "--ws-per-message-deflate", "false"], env),
            # A transfer holds its worker process for its whole run: prefetch one
            # job at a time so queued jobs stay in the broker, ordered by priority.
            _spawn("worker", [PY, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                              "--concurrency", str(max(2, os.cpu_count() or 2)), "--prefetch-multiplier", "1"], env),
            _spawn("beat", [PY, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                            "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME], env),
        ]
        host = "localhost" if settings.HOST in {"127.0.0.1", "0.0.0.0", "::"} else settings.HOST
        print(f"\n  Teamhub is running at http://{host}:{settings.PORT}/  (Ctrl-C stops everything)\n", flush=True)

        while not stop["requested"]:
            dead = [p for p in children if p.poll() is not None]
            if dead:
                for p in dead:
                    print(f"  {p.name} exited with code {p.returncode}; stopping.", file=sys.stderr, flush=True)
                exit_code = 1
                break
            time.sleep(0.2)
    finally:
        print("\n  Stopping...", flush=True)
        _stop_children(children)
        _stop_embedded(embedded_servers)
        print("  Stopped.", flush=True)
    return exit_code


CHROMIUM = "/usr/bin/chromium"


def _ensure_chromium() -> None:
    """The browser tests drive Debian's chromium, the PgBouncer test a
    real pgbouncer, and the multi-host test ``ip netns`` (iproute2). On Debian, as root, install them when missing; elsewhere
    those tests skip with the reason (the browser tests fail under CI)."""
    missing = [pkg for pkg, present in (("chromium", os.path.exists(CHROMIUM)),
                                        ("pgbouncer", bool(shutil.which("pgbouncer"))),
                                        ("iproute2", os.path.exists("/usr/sbin/ip"))) if not present]
    if not missing or not os.path.exists("/etc/debian_version"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print(f"  Installing {', '.join(missing)} for the browser and PgBouncer tests (apt-get)...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *missing]):
        if subprocess.call(cmd, env=env, stdin=subprocess.DEVNULL) != 0:
            print(f"  {' '.join(cmd)} failed; those tests will skip.", file=sys.stderr, flush=True)
            return


def test(args: list[str]) -> int:
    _ensure_chromium()
    env, started = _embedded_env()
    try:
        return subprocess.call([PY, "-m", "pytest", *args], env=env, cwd=ROOT)
    finally:
        _stop_embedded(started)


def stop() -> int:
    _stop_embedded(["postgres", "redis"])
    return 0


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "run":
        return run()
    if command == "test":
        return test(rest)
    if command == "stop":
        return stop()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
