"""Redis Sentinel failover under load, with real processes (the scenario is
tests/scale/sentinel_scenario.py): a master, a replica and three sentinels;
two uvicorn web processes and a Celery worker on them; 20 sockets, a socket
that posts, an API client that posts and logs in, and a running rclone copy.
The master is SIGKILLed. The sentinels promote the replica, and:

- every message answered 201 or acked reaches every socket exactly once and
  in order (the sockets resume by cursor when they are closed);
- the API answers only 2xx, or 503 with Retry-After, never a 500;
- a socket is closed only with 1013 (try again later), and comes back;
- the running job completes, and so does one submitted after the failover.
"""

from __future__ import annotations

import pytest
from django.db import connection

from chatroom import cursors
from chatroom.models import Message
from chatroom.services import room_create, room_join
from jobs import services as job_services
from jobs.models import Job
from tests.e2e.live_client import cookie
from tests.scale.sentinel_scenario import SOCKETS, make_tree, run_failover

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e, pytest.mark.cluster]

USERS = 10  # two sockets each, one on each web process


def _job_status(job_id: str) -> str:
    try:
        return Job.objects.filter(id=job_id).values_list("status", flat=True).first()
    finally:
        connection.close()  # a thread of the scenario's event loop


def test_a_sentinel_failover_loses_nothing_and_answers_only_2xx_or_503(make_user, settings, tmp_path):
    roots = tmp_path / "allowed"
    settings.RCLONE_LOCAL_ROOTS = [str(roots)]
    users = [make_user(f"sentinel{i}") for i in range(USERS)]
    power = make_user("sentinel-power", role="power_user")
    room = room_create(owner=users[0], name="failover")
    for user in users[1:]:
        room_join(user=user, room=room)
    # The running job: 3 MB at 300 KB/s, about 10 s, across the failover.
    make_tree(roots / "src", 6, 512 * 1024)
    make_tree(roots / "src-after", 3, 64 * 1024)
    (roots / "dst").mkdir()
    (roots / "dst-after").mkdir()
    for name in ("src", "dst", "src-after", "dst-after"):
        job_services.remote_create(actor=power, name="fo_" + name.replace("-", "_"), type="local",
                                   options={"root": str(roots / name)})
    jobs = [
        {"type": "copy", "source": {"remote": "fo_src", "path": "/"},
         "destination": {"remote": "fo_dst", "path": "/"}, "options": {"bwlimit": "300K"}},
        {"type": "copy", "source": {"remote": "fo_src_after", "path": "/"},
         "destination": {"remote": "fo_dst_after", "path": "/"}},
    ]

    def room_messages() -> list[str]:
        try:
            rows = Message.objects.filter(room=room, message_type="text").values_list("id", "created_at")
            return [str(i) for i, _ in sorted(rows, key=lambda r: (r[1], r[0]))]
        finally:
            connection.close()

    out = run_failover(directory=tmp_path / "run", cookies=[cookie(u) for u in users],
                       usernames=[u.username for u in users], job_user=power.username, rid=str(room.id),
                       local_roots=str(roots), job_bodies=jobs, job_status=_job_status, room_messages=room_messages)
    print(f"promoted {out.promoted_after:.2f} s after the kill; sockets back {out.sockets_back_after():.2f} s; "
          f"login {out.recovered_after('login')} s; post {out.recovered_after('post')} s; "
          f"closes {dict(out.close_codes)}; API {dict(out.api_codes)}; after the kill: "
          f"logins {[(round(t, 2), ok) for t, ok in out.events['login']]}, "
          f"posts {[(round(t, 2), ok) for t, ok in out.events['post']][:30]}")

    # The sentinels promoted the replica, and the product went on by itself.
    assert out.promoted_after is not None and out.promoted_after < 30
    # The API: 2xx or 503 with Retry-After, nothing else (no 500).
    assert out.api_bad == [], out.api_bad[:3]
    assert all(code < 300 or code == 503 for code in out.api_codes), out.api_codes
    # The outage was seen (or the test proved nothing): the sockets' presence
    # beats need Redis, and the servers' channel layer subscriptions came back.
    assert out.closed_by_outage, out.close_codes
    assert "the Redis subscription was re-established" in out.logs
    # Sockets: closed only with 1013, never refused at the handshake, and all back.
    assert set(out.close_codes) <= {1013}, out.close_codes
    assert out.handshake_failures == [], out.handshake_failures[:3]
    assert len(out.up) == SOCKETS
    # Every message answered 201 or acked is stored, and reached every socket
    # once, in the stored order, with nothing missing.
    stored = room_messages()
    posted = [message_id for message_id, _ in out.posted]
    assert len(set(posted)) == len(posted) and set(posted) <= set(stored)
    assert len(posted) > 30
    cursor_order = [message_id for message_id, _ in sorted(out.posted, key=lambda p: cursors.decode(p[1]))]
    assert [m for m in stored if m in set(posted)] == cursor_order
    for index, received in out.received.items():
        assert received == stored, (index, len(received), len(stored))
    # The running job came through the failover, and a job submitted after it ran.
    assert out.jobs == {"running": "completed", "after": "completed"}, out.jobs
    assert "Internal Server Error" not in out.logs and "Exception in ASGI application" not in out.logs
