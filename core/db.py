"""Database helpers every app may use."""

from __future__ import annotations

import psycopg
from django.db import connection

from core.replicas import note_write


def run_bound(sql: str, params) -> tuple | None:
    """Run one statement on a server-side-binding psycopg cursor, in the
    connection's current transaction; returns its first row. psycopg
    prepares a statement it runs often, which saves the server planning it
    on every call (the append and chat's post are each one such statement).
    This bypasses Django's execute wrappers (and so its query log), and the
    database router: its statements write, so it tells core.replicas."""
    note_write()
    # Django's own cursors run the CONN_HEALTH_CHECKS check first; without it
    # a connection the server dropped (pg_terminate_backend, a restart) is
    # reused here and the statement fails, where Django would reconnect.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
