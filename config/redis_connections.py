"""Every Redis client the product makes is configured here, from one place.

Two topologies:

- **One Redis at ``REDIS_URL``** (or the embedded one): the cache, the
  Channels layer and Celery all use that URL, exactly as before Sentinel.
- **Redis Sentinel** (``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``): each
  client asks the sentinels where the master is when it connects, and talks
  to the master only, never a replica (a replica would answer reads with
  data behind the master's, and refuse writes). When the master dies and the
  sentinels promote a replica, a pooled connection to the dead one fails; the
  clients' retry policy (below) drops it, asks the sentinels again and runs
  the command once more on the new master. A connection still open to a
  demoted master answers writes with READONLY, which redis-py's sentinel
  connection turns into a ConnectionError, retried the same way.

  - the Django cache (``django_redis``) through ``MasterSentinelConnectionFactory``;
    every direct client (rate limits, presence, job locks, activity, health)
    is the cache's client, taken with ``client()``;
  - the channel layer through channels-redis's own sentinel host entry
    (``master_name`` + ``sentinels``);
  - the Celery broker and results through kombu's and Celery's ``sentinel://``
    transports, with ``master_name`` in their transport options.

``settings.py`` builds the settings with ``RedisTopology``; the apps take a
client with ``client()``. Nothing here reads Django's settings at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlparse

from django.core.exceptions import ImproperlyConfigured
from django_redis import get_redis_connection
from django_redis.pool import ConnectionFactory, SentinelConnectionFactory
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# With Sentinel, a command that finds its connection dead (the master was
# killed, or demoted) is run again on a fresh connection, which asks the
# sentinels for the master first: a stale pooled connection after a promotion
# costs nothing. The retries are few and nearly immediate: while there is no
# master yet they fail at once (the sentinels say so), and a request makes
# several fail-open Redis calls, each of which would otherwise wait out the
# backoff (0.5 s each with 3 backed-off tries: the failover test saw API
# answers held 2 s). Then the caller's faults policy answers (503 with
# Retry-After, or fail open). Without Sentinel nothing is retried, as before.
RETRIES = 2
RETRY_BACKOFF = {"base": 0.005, "cap": 0.02}

_HOST_PORT = re.compile(r"^\[?(?P<host>[^\[\]\s]+?)\]?:(?P<port>\d{1,5})$")


def parse_sentinels(raw: str) -> list[tuple[str, int]]:
    """``REDIS_SENTINELS``: comma-separated ``host:port`` (IPv6 as ``[::1]:26379``)."""
    sentinels = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        match = _HOST_PORT.match(item)
        if not match or not 0 < int(match["port"]) < 65536:
            raise ImproperlyConfigured(
                f"REDIS_SENTINELS must be a comma-separated list of host:port, got {item!r}")
        sentinels.append((match["host"], int(match["port"])))
    return sentinels


def celery_redis_url(url: str) -> str:
    """Celery/kombu spell a Unix-socket Redis as redis+socket://."""
    parsed = urlparse(url)
    if parsed.scheme != "unix":
        return url
    db = parse_qs(parsed.query).get("db", ["0"])[0]
    return f"redis+socket://{parsed.path}?virtual_host={db}"


def sync_retry() -> Retry:
    return Retry(ExponentialBackoff(**RETRY_BACKOFF), RETRIES)


def async_retry() -> AsyncRetry:
    return AsyncRetry(ExponentialBackoff(**RETRY_BACKOFF), RETRIES)


@dataclass(frozen=True)
class RedisTopology:
    """Where Redis is, and how every client reaches it."""

    url: str
    prefix: str
    socket_timeout: float
    sentinels: list[tuple[str, int]] = field(default_factory=list)
    master: str = ""
    password: str = ""
    sentinel_password: str = ""

    @classmethod
    def from_env(cls, env, *, url_default, prefix: str, socket_timeout: float) -> "RedisTopology":
        """From the environment (a mapping); ``url_default`` is called for
        REDIS_URL only when neither it nor Sentinel is set (it starts the
        embedded Redis)."""
        raw_sentinels = env.get("REDIS_SENTINELS", "").strip()
        master = env.get("REDIS_SENTINEL_MASTER", "").strip()
        password = env.get("REDIS_PASSWORD", "")
        sentinel_password = env.get("REDIS_SENTINEL_PASSWORD", "")
        if bool(raw_sentinels) != bool(master):
            raise ImproperlyConfigured(
                "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together: set both (the sentinels' host:port "
                "list and the name of the master they watch) or neither (REDIS_URL is used).")
        if not raw_sentinels:
            if password or sentinel_password:
                raise ImproperlyConfigured(
                    "REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD apply only with REDIS_SENTINELS; "
                    "without Sentinel put the password in REDIS_URL (redis://:password@host:6379/0).")
            return cls(url=env.get("REDIS_URL") or url_default(), prefix=prefix, socket_timeout=socket_timeout)
        sentinels = parse_sentinels(raw_sentinels)
        if not re.fullmatch(r"[A-Za-z0-9._-]+", master):
            raise ImproperlyConfigured(
                f"REDIS_SENTINEL_MASTER must be a master name (letters, digits, . _ -), got {master!r}")
        if env.get("REDIS_URL"):
            raise ImproperlyConfigured("Set REDIS_URL or REDIS_SENTINELS, not both: with Sentinel the "
                                       "sentinels say where Redis is.")
        return cls(url="", prefix=prefix, socket_timeout=socket_timeout, sentinels=sentinels, master=master,
                   password=password, sentinel_password=sentinel_password)

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    def describe(self) -> str:
        """Where Redis is, for logs and /readyz (never the password)."""
        if self.uses_sentinel:
            return f"sentinel master {self.master} via " + ",".join(f"{h}:{p}" for h, p in self.sentinels)
        return self.url

    def _sentinel_kwargs(self) -> dict:
        # The sentinels' own connections: their password (Redis 6+ sentinels
        # may have one of their own), and timeouts so a dead sentinel is
        # skipped quickly for the next one.
        kwargs = {"socket_timeout": self.socket_timeout, "socket_connect_timeout": self.socket_timeout}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs

    # ------------------------------------------------------------------ cache

    def cache(self) -> dict:
        """settings.CACHES["default"]."""
        options = {"SOCKET_CONNECT_TIMEOUT": self.socket_timeout, "SOCKET_TIMEOUT": self.socket_timeout}
        if not self.uses_sentinel:
            return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": self.url, "KEY_PREFIX": self.prefix,
                    "OPTIONS": options}
        options.update({
            "CONNECTION_FACTORY": "config.redis_connections.MasterSentinelConnectionFactory",
            "SENTINELS": self.sentinels,
            "SENTINEL_MASTER": self.master,
            "SENTINEL_KWARGS": self._sentinel_kwargs(),
            "CONNECTION_POOL_KWARGS": {"retry": sync_retry()},
        })
        if self.password:
            options["PASSWORD"] = self.password
        # django-redis's default client on one server: every read and write on
        # the master (its SentinelClient would read from replicas).
        return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://{self.master}/0",
                "KEY_PREFIX": self.prefix, "OPTIONS": options}

    # ------------------------------------------------------------------ channel layer

    def channel_layer_host(self, **limits) -> dict:
        """One entry of the channel layer's ``hosts`` (channels_redis.utils.create_pool
        builds its pool): ``limits`` are redis-py pool/connection options."""
        if not self.uses_sentinel:
            return {"address": self.url, **limits}
        host = {"master_name": self.master, "sentinels": self.sentinels,
                "sentinel_kwargs": self._sentinel_kwargs(), "retry": async_retry(), **limits}
        if self.password:
            host["password"] = self.password
        return host

    # ------------------------------------------------------------------ celery

    def celery(self) -> dict:
        """CELERY_BROKER_URL, CELERY_RESULT_BACKEND and their transport options."""
        broker_options = {"global_keyprefix": f"{self.prefix}:celery:",
                          "socket_connect_timeout": self.socket_timeout}
        result_options = {"global_keyprefix": f"{self.prefix}:celery:"}
        if not self.uses_sentinel:
            url = celery_redis_url(self.url)
            return {"broker_url": url, "result_backend": url, "broker_transport_options": broker_options,
                    "result_backend_transport_options": result_options}
        # kombu and Celery take one sentinel:// URL per sentinel, joined by
        # ";". The password in them is the master's; the sentinels' is in
        # sentinel_kwargs.
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        url = ";".join(f"sentinel://{auth}{_url_host(host)}:{port}/0" for host, port in self.sentinels)
        sentinel = {"master_name": self.master, "sentinel_kwargs": self._sentinel_kwargs()}
        return {"broker_url": url, "result_backend": url,
                "broker_transport_options": {**broker_options, **sentinel},
                "result_backend_transport_options": {**result_options, **sentinel}}


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class MasterSentinelConnectionFactory(SentinelConnectionFactory):
    """django-redis's sentinel factory, always on the master named by
    ``OPTIONS["SENTINEL_MASTER"]`` (django-redis would take the name from the
    LOCATION's host, which urlparse lowercases, and honour ``?is_master=0``)."""

    def get_connection_pool(self, params):
        cp_params = dict(params, service_name=self.options["SENTINEL_MASTER"], sentinel_manager=self._sentinel,
                         is_master=True)
        return ConnectionFactory.get_connection_pool(self, cp_params)


def client():
    """The process's synchronous Redis client (the cache's connection pool):
    on REDIS_URL's server, or on the current Sentinel master. Every direct
    Redis use in the apps takes it from here."""
    return get_redis_connection("default")
