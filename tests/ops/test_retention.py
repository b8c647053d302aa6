"""system_metrics is maintained by core.partitions with its own retention
(METRICS_RETENTION_MONTHS, default 3)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.db import connection

from core import partitions
from core.partitions import add_months, config_for, month_start
from ops.models import SystemMetric

pytestmark = pytest.mark.django_db


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def test_registered_with_three_months_by_default():
    assert config_for("system_metrics").retention_months == 3


def test_a_month_past_retention_is_exported_and_dropped(settings, audit_dirs):
    settings.METRICS_RETENTION_MONTHS = 3
    config = config_for("ops.SystemMetric")
    now = datetime.now(timezone.utc)
    old, kept = add_months(month_start(now), -4), add_months(month_start(now), -3)
    for start in (old, kept):
        partitions.create_month(config, start)
        SystemMetric.objects.create(metric_name="cpu_usage", metric_value=1.5, created_at=start.replace(day=2),
                                    server_id="h:1")

    report = partitions.maintain()

    old_name, kept_name = config.month_partition(old), config.month_partition(kept)
    assert any(old_name in line and "drop" in line for line in report.done)
    assert not exists(old_name) and exists(kept_name)
    assert SystemMetric.objects.count() == 1
    assert (audit_dirs / "archive" / f"{old_name}.jsonl.gz").exists()
    ahead = [p for p in partitions.partitions(config) if p.start and p.start > month_start(now)]
    assert len(ahead) >= settings.PARTITION_MONTHS_AHEAD
