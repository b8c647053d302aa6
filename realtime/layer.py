"""The channel layer: channels-redis's pub/sub layer, with nothing dropped silently.

``channels_redis.pubsub.RedisPubSubChannelLayer`` already fans out once per
process: a group send is one Redis PUBLISH, each server process subscribes
once to every group one of its sockets is in, and hands each message to its
local sockets' queues in memory, in the order Redis delivered it. Two things
it does quietly, and this subclass makes loud:

- **A socket that falls behind.** Its in-process queue had no bound, so a
  socket that could not keep up held an ever-growing backlog. Here a queue
  holds at most ``queue_max`` events (``CHANNEL_LAYER_QUEUE_MAX``). When one
  more arrives, the layer stops queueing for that channel and puts a single
  ``{"type": "realtime.behind"}`` after what is queued; events that come
  before the consumer has taken it are dropped. ``realtime.behind`` means
  "anything since your previous event may be missing: catch up from the
  database now". Everything the socket shows is persisted before it is
  broadcast (architecture.md, "side effects follow data"), so a catch-up
  that starts after the consumer took the event misses nothing: a message
  published before then was committed before then.
- **A lost subscription.** When the process's Redis connection for pub/sub
  drops, redis-py reconnects and subscribes again by itself, and what was
  published in between never arrives. Here every local channel then gets
  ``realtime.behind`` too, once Redis has confirmed the new subscription
  (so a catch-up can no longer miss a later message).

Both are counted (``overload_counts()``, shown by ``/readyz``) and logged as
WARNING lines with the counts. Sending, group membership, the per-loop
layers (sync code and Celery send from an event loop of their own) and
Redis errors raised to the caller are the library's, unchanged.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, create_pool, decode_hosts
from redis import asyncio as aioredis
from redis.asyncio.client import PubSub

logger = logging.getLogger(__name__)

BEHIND = {"type": "realtime.behind"}  # -> consumer method realtime_behind(self, event)
DEFAULT_QUEUE_MAX = 1000
RECONNECT_SECONDS = 0.5  # between attempts while Redis is away
LOG_EVERY_SECONDS = 10.0  # at most one overload line per this often per process

# This process's overload counts, from its start (see overload_counts).
_counts: collections.Counter = collections.Counter()


def overload_counts() -> dict[str, int]:
    """This process's counts since it started: ``behind`` (a socket's queue
    overflowed and it was sent to the database), ``dropped`` (events not
    queued for such a socket), ``resubscribed`` (the Redis subscription was
    lost and re-established) and ``resync_behind`` (sockets sent to the
    database after that)."""
    return {key: _counts[key] for key in ("behind", "dropped", "resubscribed", "resync_behind")}


class _OverloadLog:
    """One WARNING line per LOG_EVERY_SECONDS at most, with what happened
    since the last one: a thousand sockets falling behind at once is one
    incident, not a thousand lines."""

    def __init__(self):
        self.since: collections.Counter = collections.Counter()
        self.bound = 0
        self.logged_at = float("-inf")
        self.flush_scheduled = False

    def fell_behind(self, bound: int) -> None:
        self.bound = bound
        self._count("behind")
        self._count("dropped")

    def dropped(self) -> None:
        self._count("dropped")

    def _count(self, key: str) -> None:
        _counts[key] += 1
        self.since[key] += 1
        wait = self.logged_at + LOG_EVERY_SECONDS - time.monotonic()
        if wait <= 0:
            self.flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if not self.since["behind"] and not self.since["dropped"]:
            return
        self.logged_at = time.monotonic()
        logger.warning(
            "channel layer overload: %d sockets fell behind (over %d events queued) and %d events were not "
            "queued for them; they catch up from the database (this process so far: %d sockets, %d events)",
            self.since["behind"], self.bound, self.since["dropped"], _counts["behind"], _counts["dropped"])
        self.since.clear()


_overload_log = _OverloadLog()


class _ChannelQueue(asyncio.Queue):
    """One channel's events in this process: at most ``bound``, then one
    behind marker and nothing more until the consumer has taken it."""

    def __init__(self, bound: int, marker: dict):
        super().__init__()
        self.bound, self.marker = bound, marker
        self.behind = False

    def offer(self, data: bytes) -> None:
        if self.behind:
            _overload_log.dropped()
        elif self.qsize() >= self.bound:
            self.mark_behind()
            _overload_log.fell_behind(self.bound)
        else:
            self.put_nowait(data)

    def mark_behind(self) -> bool:
        if self.behind:
            return False
        self.behind = True
        self.put_nowait(self.marker)
        return True

    def get_nowait(self):
        # Queue.get() ends here too: the consumer has the marker, and what
        # arrives from now on is after the catch-up it starts.
        data = super().get_nowait()
        if data is self.marker:
            self.behind = False
        return data


class _PubSub(PubSub):
    """redis-py's PubSub, telling the shard when it subscribes again on a
    new connection (everything published in between was missed)."""

    def __init__(self, *args, resubscribed, **kwargs):
        super().__init__(*args, **kwargs)
        self._resubscribed = resubscribed

    async def on_connect(self, connection):
        again = self.subscribed
        await super().on_connect(connection)
        if again:
            self._resubscribed()


class _Shard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._resync_pending = False
        self._down = False

    def _ensure_redis(self):
        if self._redis is None:
            pool = create_pool(self.host)
            self._redis = aioredis.Redis(connection_pool=pool)
            self._pubsub = _PubSub(pool, resubscribed=self._on_resubscribed)

    def _on_resubscribed(self) -> None:
        self._resync_pending = True

    async def _do_receiving(self):
        """The library's receive loop, seeing subscribe confirmations too:
        the first one after a reconnect means Redis has the subscriptions
        again, and from then on nothing is missed."""
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(timeout=0.1)
                    if self._down:
                        self._down = False
                        logger.warning("channel layer: Redis answers the subscription again")
                    if message is None:
                        continue
                    if message["type"] == "message":
                        self._receive_message(message)
                    elif message["type"] == "subscribe" and self._resync_pending:
                        self._resync_pending = False
                        self.channel_layer.resync()
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: redis-py reconnects on the next read
                if not self._down:
                    self._down = True
                    logger.warning("channel layer: the Redis subscription was lost (%r); reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    def _receive_message(self, message):
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        # Decoded once here, not once per local socket of the group: the
        # sockets share the event, and read it only.
        try:
            event = layer.channel_layer.deserialize(message["data"])
        except Exception:  # noqa: BLE001 - not ours (another client publishing on our prefix)
            logger.warning("channel layer: an undecodable event on %s was dropped", name)
            return
        queue = layer.channels.get(name)
        if queue is not None:
            queue.offer(event)
            return
        for channel in layer.groups.get(name, ()):
            queue = layer.channels.get(channel)
            if queue is not None:
                queue.offer(event)


class _LoopLayer(RedisPubSubLoopLayer):
    """The layer of one event loop, with bounded queues and the shard above."""

    def __init__(self, hosts=None, *args, queue_max: int = DEFAULT_QUEUE_MAX, **kwargs):
        super().__init__(hosts, *args, **kwargs)
        self.queue_max = queue_max
        self._marker = BEHIND
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]

    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = _ChannelQueue(self.queue_max, self._marker)
        await self._get_shard(channel).subscribe(channel)

    def resync(self) -> None:
        """The subscription was re-established: every local channel may have
        missed something."""
        told = sum(queue.mark_behind() for queue in list(self.channels.values()))
        _counts["resubscribed"] += 1
        _counts["resync_behind"] += told
        logger.warning("channel layer: the Redis subscription was re-established; %d sockets catch up from "
                       "the database", told)


class BoundedPubSubChannelLayer(RedisPubSubChannelLayer):
    """settings.CHANNEL_LAYERS' backend. CONFIG as the library's, plus
    ``queue_max``: the most events queued in a process for one channel."""

    def __init__(self, *args, queue_max: int = DEFAULT_QUEUE_MAX, **kwargs):
        super().__init__(*args, queue_max=queue_max, **kwargs)

    def deserialize(self, message):
        # Events reach the library's receive() decoded already (_Shard).
        if isinstance(message, dict):
            return message
        return super().deserialize(message)

    async def forget_channel(self, channel: str) -> None:
        """A consumer's channel, once the consumer has ended: unsubscribed
        and its queue dropped. The library does this only when a receive is
        cancelled while waiting, which a consumer that ended in the middle
        of handling an event never is."""
        layer = self._get_layer()
        if layer.channels.pop(channel, None) is not None:
            try:
                await layer._get_shard(channel).unsubscribe(channel)
            except Exception:  # noqa: BLE001 - Redis away: the subscription ended with its connection
                logger.warning("channel layer: could not unsubscribe %s", channel, exc_info=True)

    def _get_layer(self):
        # The library's, building our loop layer instead of its own.
        loop = asyncio.get_running_loop()
        try:
            layer = self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
