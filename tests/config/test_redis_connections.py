"""config/redis_connections.py against a real Sentinel setup (a master, a
replica, three sentinels: tests/sentinel_cluster.py): the cache, the direct
client the apps use, the channel layer, and Celery's broker and results each
reach the master, and after the master is SIGKILLed and a replica promoted,
the new master, by themselves: the first command after the promotion finds
its pooled connection dead, and the client drops it, asks the sentinels and
runs the command again.

Nothing sleeps a fixed time: the promotion is polled for with a deadline, and
so is each client's first success after it (a client may still see no master
for a moment while the sentinels agree)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis
from celery import Celery
from django.core.cache import cache
from django.test import override_settings
from kombu import Queue

from config import redis_connections
from config.redis_connections import RedisTopology
from realtime.layer import BoundedPubSubChannelLayer
from tests.sentinel_cluster import SentinelCluster

pytestmark = [pytest.mark.cluster]

PASSWORD = "redis pass/with:odd@chars"
SENTINEL_PASSWORD = "sentinel-pass"
RECOVERY_DEADLINE = 15  # seconds after the promotion for each client's first success


def _topology(cluster: SentinelCluster, prefix: str) -> RedisTopology:
    return RedisTopology.from_env(cluster.env(), url_default=lambda: pytest.fail("no Redis URL with Sentinel"),
                                  prefix=prefix, socket_timeout=2.0)


def _eventually(action, deadline: float = RECOVERY_DEADLINE):
    """``action()`` until it succeeds, up to ``deadline`` seconds: only the
    errors a failover raises are ridden out (the last one is raised)."""
    stop = time.monotonic() + deadline
    while True:
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, OSError):
            if time.monotonic() > stop:
                raise
            time.sleep(0.05)


def _celery(topology: RedisTopology) -> Celery:
    conf = topology.celery()
    app = Celery("sentinel-test", broker=conf["broker_url"], backend=conf["result_backend"], set_as_current=False)
    app.conf.broker_transport_options = conf["broker_transport_options"]
    app.conf.result_backend_transport_options = conf["result_backend_transport_options"]
    app.conf.broker_connection_retry_on_startup = True
    return app


def _publish(app: Celery, queue: str, body: dict) -> None:
    """What a web process does to send a task: publish on a pooled producer,
    with kombu's retry (it reconnects through the sentinels)."""
    with app.producer_or_acquire() as producer:
        producer.publish(body, routing_key=queue, declare=[Queue(queue)], serializer="json", retry=True,
                         retry_policy={"max_retries": 20, "interval_start": 0, "interval_step": 0.2,
                                       "interval_max": 0.5})


async def _layer_roundtrip(layer: BoundedPubSubChannelLayer, group: str, payload: str) -> list[str]:
    """Subscribe a channel to ``group`` and send to the group until the
    channel receives the payload (a subscription is confirmed by Redis a
    moment later, and after a failover its connection is made again first);
    returns the types of what the channel received."""
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    received: list[dict] = []

    async def receive():
        while not received or received[-1].get("text") != payload:
            received.append(await layer.receive(channel))

    task = asyncio.ensure_future(receive())
    deadline = time.monotonic() + RECOVERY_DEADLINE
    try:
        while not task.done():
            try:
                await layer.group_send(group, {"type": "probe", "text": payload})
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                pass
            await asyncio.wait({task}, timeout=0.3)
            assert task.done() or time.monotonic() < deadline, f"nothing on {group} after {RECOVERY_DEADLINE} s"
        task.result()
        return [m["type"] for m in received]
    finally:
        task.cancel()


def _key_on(cluster: SentinelCluster, address: tuple[str, int], key: str):
    return cluster.server(address[1]).get(key)


def test_each_client_reaches_the_master_and_after_a_failover_the_new_one(tmp_path):
    prefix = f"sentinel-test-{uuid.uuid4().hex[:8]}"
    with SentinelCluster(tmp_path, password=PASSWORD, sentinel_password=SENTINEL_PASSWORD) as cluster:
        topology = _topology(cluster, prefix)
        (first,) = cluster.master_addresses()
        app = _celery(topology)
        layer = BoundedPubSubChannelLayer(
            hosts=[topology.channel_layer_host(socket_timeout=5, socket_connect_timeout=2)], prefix=f"{prefix}:asgi")
        loop = asyncio.new_event_loop()
        try:
            published = {"n": 0}
            with override_settings(CACHES={"default": topology.cache()}):
                def check_all(label: str, master: tuple[str, int]) -> dict[str, float]:
                    """Each client writes a key of its own; it must be on ``master``."""
                    started, took = time.monotonic(), {}

                    _eventually(lambda: cache.set(f"cache-{label}", label, 60))
                    took["cache"] = time.monotonic() - started
                    assert _key_on(cluster, master, cache.make_key(f"cache-{label}")) is not None

                    _eventually(lambda: redis_connections.client().set(f"{prefix}:direct-{label}", label))
                    took["direct"] = time.monotonic() - started
                    assert _key_on(cluster, master, f"{prefix}:direct-{label}") == label.encode()
                    # The direct client is the cache's: one pool, on the master.
                    assert redis_connections.client().execute_command("ROLE")[0] == b"master"

                    _eventually(lambda: _publish(app, f"{prefix}-q", {"label": label}))
                    took["celery_broker"] = time.monotonic() - started
                    published["n"] += 1
                    assert cluster.server(master[1]).llen(f"{prefix}:celery:{prefix}-q") == published["n"]
                    task_id = f"{prefix}-{label}"
                    _eventually(lambda: app.backend.store_result(task_id, label, "SUCCESS"))
                    took["celery_results"] = time.monotonic() - started
                    key = app.backend.get_key_for_task(task_id).decode()
                    assert key.startswith(f"{prefix}:celery:") and _key_on(cluster, master, key) is not None
                    app.backend._cache.clear()  # read it back from Redis, not from the backend's memory
                    assert app.backend.get_task_meta(task_id)["result"] == label

                    kinds = loop.run_until_complete(
                        asyncio.wait_for(_layer_roundtrip(layer, f"g-{label}", label), RECOVERY_DEADLINE + 5))
                    took["channel_layer"] = time.monotonic() - started
                    assert kinds[-1] == "probe"
                    return took

                check_all("before", first)
                # Replicated before the kill, so "after" is only about reconnecting.
                cluster.wait_replicated()

                killed = cluster.kill_master()
                assert killed == first
                promoted = cluster.wait_for_promotion(killed, timeout=30)
                assert promoted != first and promoted[1] == cluster.replica_port

                took = check_all("after", promoted)
                # Each came back well inside the deadline, not at its edge.
                assert max(took.values()) < RECOVERY_DEADLINE, took
                # The old keys survived on the promoted replica.
                assert cache.get("cache-before") == "before"
                print("first success after the promotion, seconds:",
                      {k: round(v, 2) for k, v in took.items()})
        finally:
            loop.run_until_complete(layer.flush())
            loop.close()
            app.close()


def test_the_clients_never_use_a_replica(tmp_path):
    """Reads too go to the master: a replica may lag it (and django-redis's
    own SentinelClient would read from one)."""
    with SentinelCluster(tmp_path) as cluster:
        topology = _topology(cluster, f"sentinel-test-{uuid.uuid4().hex[:8]}")
        with override_settings(CACHES={"default": topology.cache()}):
            client = redis_connections.client()
            for _ in range(20):
                assert client.execute_command("ROLE")[0] == b"master"
                assert cache.get("missing") is None
            assert cluster.server(cluster.master_port).info("commandstats")["cmdstat_get"]["calls"] >= 20
            # The replica served no client reads (its only commands are replication's).
            assert "cmdstat_get" not in cluster.server(cluster.replica_port).info("commandstats")


def test_after_a_manual_failover_the_clients_leave_the_demoted_master(tmp_path):
    """SENTINEL FAILOVER: the old master lives on as a replica, so a pooled
    connection to it stays open and a write on it is answered READONLY (or
    the server drops it); the client asks the sentinels again and writes to
    the new master, with no error to the caller."""
    with SentinelCluster(tmp_path) as cluster:
        prefix = f"sentinel-test-{uuid.uuid4().hex[:8]}"
        topology = _topology(cluster, prefix)
        with override_settings(CACHES={"default": topology.cache()}):
            client = redis_connections.client()
            client.set(f"{prefix}:k", "before")
            (old,) = cluster.master_addresses()
            cluster.wait_replicated()
            cluster.sentinel(cluster.sentinels[0][1]).execute_command("SENTINEL", "FAILOVER", cluster.master_name)
            new = cluster.wait_for_promotion(old, timeout=30)
            # The demoted master must be a replica of the new one before the write,
            # so a connection still open to it would be refused with READONLY.
            cluster._wait(lambda: cluster.role(old[1]) == "slave", 30, "the old master was not demoted")
            client.set(f"{prefix}:k", "after")  # no test-side retry: the client's own
            cache.set("written-after", "yes", 60)
            assert cluster.server(new[1]).get(f"{prefix}:k") == b"after"
            assert cluster.server(new[1]).get(cache.make_key("written-after")) is not None
            assert client.execute_command("ROLE")[0] == b"master"
