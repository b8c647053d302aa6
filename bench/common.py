"""Pieces every benchmark shares: a scratch database beside DATABASE_URL's
(or the embedded server's), a plain psycopg connection, and percentiles."""

from __future__ import annotations

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
