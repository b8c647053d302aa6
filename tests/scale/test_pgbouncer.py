"""The product behind a real PgBouncer in transaction pooling mode, with
DB_PGBOUNCER=1: two uvicorn processes whose connections share a server pool
smaller than theirs, concurrent posts (each takes a transaction-scoped
advisory lock), history, search, audit verification (a server-side cursor
inside its transaction) and live delivery over the socket.

Skipped, with the reason in the summary, where pgbouncer is not installed."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.db import connection

from tests.e2e.live_client import Socket, ws_url
from tests.pg_cluster import _system_user
from tests.processes import asgi_servers, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e, pytest.mark.cluster]

PGBOUNCER = shutil.which("pgbouncer")
POOL_SIZE = 3
PASSWORD = "correct horse battery staple"


@pytest.fixture
def pgbouncer():
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer; "
                    "python3 dev.py test installs it as root)")
    db = connection.settings_dict
    user = _system_user()
    directory = tempfile.mkdtemp(prefix="teamhub-pgbouncer-")
    os.chmod(directory, 0o755)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    port = free_port()
    with open(os.path.join(directory, "userlist.txt"), "w") as fh:
        fh.write(f'"{db["USER"] or "postgres"}" "{db.get("PASSWORD") or ""}"\n')
    ini = os.path.join(directory, "pgbouncer.ini")
    with open(ini, "w") as fh:
        fh.write(f"""[databases]
* = host={db["HOST"] or "127.0.0.1"} port={db["PORT"] or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 500
admin_users = {db["USER"] or "postgres"}
logfile = {directory}/pgbouncer.log
""")
    proc = subprocess.Popen([PGBOUNCER, ini], user=user, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                psycopg.connect(host="127.0.0.1", port=port, user=db["USER"] or "postgres", dbname="pgbouncer",
                                autocommit=True, prepare_threshold=None).close()
                return True
            except psycopg.OperationalError:
                return False
        assert wait_for(up, 15), open(os.path.join(directory, "pgbouncer.log")).read()[-2000:]
        yield {"port": port, "dir": directory, "user": db["USER"] or "postgres", "name": db["NAME"]}
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


def _admin(bouncer, command: str) -> list[dict]:
    with psycopg.connect(host="127.0.0.1", port=bouncer["port"], user=bouncer["user"], dbname="pgbouncer",
                         autocommit=True, prepare_threshold=None) as conn:
        cur = conn.execute(command)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def test_the_product_works_behind_pgbouncer_in_transaction_pooling(make_user, pgbouncer, tmp_path):
    make_user("bouncer_admin", is_staff=True)
    make_user("alice_pb")
    make_user("bob_pb")
    url = f"postgres://{pgbouncer['user']}@127.0.0.1:{pgbouncer['port']}/{pgbouncer['name']}"
    with asgi_servers(2, tmp_path, DATABASE_URL=url, DB_PGBOUNCER=1, CHAT_MESSAGE_RATE=100000,
                      API_RATE_LIMIT_PER_MINUTE=100000) as (one, two):
        def login(name, base=one):
            r = httpx.post(base + "/api/v1/auth/login", json={"login": name, "password": PASSWORD}, timeout=20)
            assert r.status_code == 200, r.text
            return {"Authorization": f"Token {r.json()['token']}"}

        alice, bob, staff = login("alice_pb"), login("bob_pb", two), login("bouncer_admin")
        room = httpx.post(one + "/api/v1/rooms/", json={"name": "bounced", "is_private": False}, headers=alice,
                          timeout=20)
        assert room.status_code == 201, room.text
        rid = room.json()["id"]
        assert httpx.post(two + f"/api/v1/rooms/{rid}/join", json={}, headers=bob, timeout=20).status_code == 200

        # Concurrent posts from both processes through 3 server connections.
        def post(i):
            base, who = (one, alice) if i % 2 else (two, bob)
            return httpx.post(base + f"/api/v1/rooms/{rid}/messages/", json={"content": f"bounce {i}"},
                              headers=who, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(post, range(30)))
        assert codes == [201] * 30

        history = httpx.get(one + f"/api/v1/rooms/{rid}/messages/", params={"limit": 100}, headers=alice, timeout=20)
        assert history.status_code == 200
        assert sorted(m["content"] for m in history.json()["results"] if m["content"].startswith("bounce")) == \
            sorted(f"bounce {i}" for i in range(30))
        found = httpx.get(two + "/api/v1/search/messages", params={"q": "bounce"}, headers=bob, timeout=20)
        assert found.status_code == 200 and found.json()["results"]

        verified = httpx.get(one + "/api/v1/audit/verify", headers=staff, timeout=60)
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True and verified.json()["checked"] > 30

        async def live():
            async with Socket(ws_url(two)) as b:
                await b.send({"type": "auth", "token": bob["Authorization"].split()[1]})
                await b.wait(lambda: b.of("ready"))
                await asyncio.to_thread(post, 1)
                await b.wait(lambda: b.of("message.new"))
                return b.of("message.new")[0]["message"]["content"]

        assert asyncio.run(live()) == "bounce 1"

    stats = {row["database"]: row for row in _admin(pgbouncer, "SHOW STATS")}
    assert stats[pgbouncer["name"]]["total_xact_count"] > 60  # it all went through pgbouncer
    pools = [row for row in _admin(pgbouncer, "SHOW POOLS") if row["database"] == pgbouncer["name"]]
    assert all(row["sv_active"] + row["sv_idle"] + row["sv_used"] <= POOL_SIZE for row in pools)
    logs = "".join(p.read_text() for p in tmp_path.glob("asgi-*.log"))
    assert "Internal Server Error" not in logs and "prepared statement" not in logs
