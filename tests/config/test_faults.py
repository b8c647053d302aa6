"""config.faults in this process: the one mapping on real errors, and each
Redis policy against a real Redis that is stopped under it."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import psycopg
import pytest
import redis
from django.db import OperationalError
from django.test import override_settings

from config import faults
from core.errors import ServiceUnavailable
from tests.redis_server import ThrowawayRedis

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cache_redis(tmp_path):
    """The cache pointed at a real Redis of its own, which a test stops;
    yields the server."""
    server = ThrowawayRedis(tmp_path).start()
    cache_settings = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url,
                                  "KEY_PREFIX": "faults-test",
                                  "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}}
    try:
        with override_settings(CACHES=cache_settings):
            from django.core.cache import cache

            cache.set("probe", 1)
            assert cache.get("probe") == 1
            yield server
    finally:
        server.stop()


@pytest.fixture
def stopped_redis(cache_redis):
    """As cache_redis, already stopped; yields the parts the code under test found down."""
    cache_redis.stop()
    with faults.tracking() as down:
        yield down


# --------------------------------------------------------------------------- the mapping


def test_a_refused_database_connection_maps_to_503():
    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect(host="127.0.0.1", port=_closed_port(), dbname="x", user="x", connect_timeout=2)
    error = faults.unavailable(raised.value)
    assert isinstance(error, ServiceUnavailable)
    assert (error.status, error.code, error.part, error.retry_after) == (503, "service_unavailable", "database", 5)
    assert faults.unavailable(OperationalError("wrapped by Django")).part == "database"


def test_a_stopped_redis_maps_to_503_and_other_errors_do_not(tmp_path):
    server = ThrowawayRedis(tmp_path).start()
    client = redis.Redis(unix_socket_path=str(server.sock), socket_timeout=1)
    assert client.ping()
    server.stop()
    with pytest.raises(redis.exceptions.ConnectionError) as raised:
        client.ping()
    error = faults.unavailable(raised.value)
    assert error.part == "redis" and "Redis" in error.message
    assert faults.unavailable(ValueError("a bug")) is None
    assert faults.unavailable(redis.exceptions.ResponseError("WRONGTYPE")) is None


def test_a_policy_must_say_open_or_closed():
    with pytest.raises(ValueError):
        faults.redis_policy("test_bad", fails="maybe", means="")


def test_every_policy_is_documented_in_the_readme():
    """The README's Faults table has one row per policy, naming how it fails."""
    import accounts.throttling  # noqa: F401  (modules that define policies)
    import chatroom.ratelimit  # noqa: F401
    import chatroom.unread  # noqa: F401
    import jobs.services  # noqa: F401
    import orgs.permissions  # noqa: F401
    import realtime.presence  # noqa: F401

    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| fails (open|closed) \|", readme, flags=re.M))
    assert len(faults.POLICIES) >= 12
    for name, policy in faults.POLICIES.items():
        assert rows.get(name) == policy.fails, f"README's Faults table: {name} fails {policy.fails}"


# --------------------------------------------------------------------------- each policy with Redis stopped


@pytest.mark.django_db
def test_open_policies_go_on_without_redis(stopped_redis, make_user):
    from accounts import ratelimit, services
    from accounts.throttling import _hit
    from chatroom.ratelimit import check_message_rate

    user = make_user()
    assert _hit("user:x", limit=1, window=60) == (True, 0.0)  # api_throttle: allowed
    assert _hit("user:x", limit=1, window=60) == (True, 0.0)  # ... and again: nothing counted
    check_message_rate(user)  # message_rate: no Throttled
    assert ratelimit.gate("active:x", seconds=60) is False  # activity_gate: no write
    services.user_touch_activity(user=user)
    user.refresh_from_db()
    assert user.last_active_at is None
    assert stopped_redis == {"redis"}


@pytest.mark.django_db
def test_login_lockout_fails_closed(stopped_redis, make_user):
    from accounts import services

    make_user("locked", password="right password 123")
    with pytest.raises(ServiceUnavailable) as raised:
        services.authenticate_login(login="locked", password="right password 123", ip="10.0.0.1")
    assert raised.value.part == "redis"


@pytest.mark.django_db
def test_permissions_are_computed_from_the_database_and_changes_fail_closed(cache_redis, make_user):
    from orgs.models import Role
    from orgs.permissions import has_permission
    from orgs.services import member_add, org_create, role_create, role_update

    owner, member = make_user("owner"), make_user("member")
    org = org_create(owner=owner, name="faults-org")
    role = role_create(actor=owner, org=org, name="reader", permissions={"docs": ["read"]})
    member_add(actor=owner, org=org, user=member, role=role)
    assert has_permission(member, org, "docs", "read")  # cached while Redis is up

    cache_redis.stop()
    with faults.tracking() as down:
        assert has_permission(member, org, "docs", "read")
        assert not has_permission(member, org, "docs", "write")
        # A change that cannot invalidate the cached grants is refused, whole.
        with pytest.raises(ServiceUnavailable):
            role_update(actor=owner, role=role, permissions={"docs": ["read", "write"]})
    assert Role.objects.get(pk=role.pk).permissions == {"docs": ["read"]}
    assert down == {"redis"}


@pytest.mark.django_db
def test_unread_counts_are_counted_from_the_database(cache_redis, make_user):
    from chatroom import unread
    from chatroom.services import message_post, room_create, room_join

    alice, bob = make_user("alice"), make_user("bob")
    room = room_create(owner=alice, name="faults-room")
    room_join(user=bob, room=room)
    message_post(actor=alice, room=room, content="hello")
    assert unread.counts(bob)[room.id][:2] == (1, 0)

    cache_redis.stop()
    message_post(actor=alice, room=room, content="while Redis is down")
    with faults.tracking() as down:
        assert unread.counts(bob)[room.id][:2] == (2, 0)
    assert down == {"redis"}
