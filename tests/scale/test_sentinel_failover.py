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

from chatroom import cursors
from tests.scale.sentinel_scenario import SOCKETS, prepare, run_failover

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e, pytest.mark.cluster]


def test_a_sentinel_failover_loses_nothing_and_answers_only_2xx_or_503(settings, tmp_path):
    roots = tmp_path / "allowed"
    settings.RCLONE_LOCAL_ROOTS = [str(roots)]
    data = prepare(roots, "t")
    room_messages = data["room_messages"]
    out = run_failover(directory=tmp_path / "run", **data)
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
