"""What a lost database or Redis looks like from the application, as
exception classes, so the faces that must ride out an outage (the socket
today) recognise one the same way and answer ``service_unavailable``
instead of dying on it."""

from __future__ import annotations

import redis.exceptions
from django.db import InterfaceError, OperationalError
from django_redis.exceptions import ConnectionInterrupted

# A dropped or refused PostgreSQL connection (pg_terminate_backend, a
# restart, a failover). Django closes such a connection at the end of the
# unit of work, so the next one reconnects.
DATABASE_DOWN = (OperationalError, InterfaceError)

# Redis refusing, closing or timing out, through redis-py (the channel
# layer, presence) or django-redis (the cache). OSError covers a refused or
# missing socket the client did not wrap.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionInterrupted, OSError)
