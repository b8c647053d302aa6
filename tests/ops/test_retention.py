"""system_metrics and performance_metrics are maintained by core.partitions
with their own retention (METRICS_RETENTION_MONTHS, default 3)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.db import connection

from core import partitions
from core.partitions import add_months, config_for, month_start
from ops.models import PerformanceMetric, SystemMetric

pytestmark = pytest.mark.django_db

TABLES = {
    "ops.SystemMetric": lambda at: SystemMetric.objects.create(metric_name="cpu_usage", metric_value=1.5,
                                                               created_at=at, server_id="h:1"),
    "ops.PerformanceMetric": lambda at: PerformanceMetric.objects.create(
        metric_name="http_request_duration", metric_type="histogram", service_name="http", value=12, unit="ms",
        created_at=at, tags={"view": "v", "count": 1}),
}


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("table", ["system_metrics", "performance_metrics"])
def test_registered_with_three_months_by_default(table):
    assert config_for(table).retention_months == 3


@pytest.mark.parametrize("label", list(TABLES))
def test_a_month_past_retention_is_exported_and_dropped(settings, audit_dirs, label):
    settings.METRICS_RETENTION_MONTHS = 3
    config = config_for(label)
    now = datetime.now(timezone.utc)
    old, kept = add_months(month_start(now), -4), add_months(month_start(now), -3)
    for start in (old, kept):
        partitions.create_month(config, start)
        TABLES[label](start.replace(day=2))

    report = partitions.maintain()

    old_name, kept_name = config.month_partition(old), config.month_partition(kept)
    assert any(old_name in line and "drop" in line for line in report.done)
    assert not exists(old_name) and exists(kept_name)
    assert config.model.objects.count() == 1
    assert (audit_dirs / "archive" / f"{old_name}.jsonl.gz").exists()
    ahead = [p for p in partitions.partitions(config) if p.start and p.start > month_start(now)]
    assert len(ahead) >= settings.PARTITION_MONTHS_AHEAD
