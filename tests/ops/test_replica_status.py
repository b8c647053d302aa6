"""The replica lag in words (ops.replica_status), and /metrics without replicas."""

from __future__ import annotations

import pytest

from ops import replica_status
from ops.metrics_view import render


@pytest.mark.parametrize("seconds, text", [
    (0, "0.0 s"), (0.34, "0.3 s"), (9.94, "9.9 s"), (12.6, "13 s"), (60, "1 min"), (125, "2 min 5 s"),
    (3600, "1 h"), (7300, "2 h 1 min"), (-0.2, "0.0 s"), (None, "—"),
])
def test_seconds_text(seconds, text):
    assert replica_status.seconds_text(seconds) == text


@pytest.mark.parametrize("status, lag, text", [
    ("ok", 0.26, "0.3 s"), ("lagging", 42.0, "42 s"), ("down", None, "down"), ("down", 3.0, "down"),
    ("not_standby", None, "not a standby"), ("unknown", None, "unknown"),
])
def test_lag_text(status, lag, text):
    assert replica_status.lag_text(status, lag) == text


@pytest.mark.django_db
def test_without_replicas_there_are_no_rows_and_no_replica_metrics(settings):
    settings.REPLICA_ALIASES = []
    assert replica_status.rows() == []
    assert b"teamhub_replica_" not in render()
