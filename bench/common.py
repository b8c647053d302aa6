"""Pieces every benchmark shares: a scratch database beside DATABASE_URL's
(or the embedded server's), a plain psycopg connection, and percentiles."""

from __future__ import annotations

import contextlib
import os
from urllib.parse import unquote, urlparse, urlunparse


def scratch_database(name: str) -> tuple[str, str]:
    """(admin URL on the 'postgres' database, URL of the scratch database `name`)."""
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    url = os.environ.get("DATABASE_URL")
    if not url:
        from config import embedded

        url = embedded.ensure_postgres()
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path="/postgres")), urlunparse(parsed._replace(path=f"/{name}"))


@contextlib.contextmanager
def created_scratch_database(name: str):
    """Create the scratch database ``name``, point DATABASE_URL at it and
    yield its URL; afterwards close Django's connections and drop it."""
    admin_url, url = scratch_database(name)
    with pg_connect(admin_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        with pg_connect(admin_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_connect(url: str):
    import psycopg

    parsed = urlparse(url)
    return psycopg.connect(
        host=unquote(parsed.hostname or "") or None, port=parsed.port, user=parsed.username or "postgres",
        password=parsed.password, dbname=parsed.path.lstrip("/"), autocommit=True,
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
