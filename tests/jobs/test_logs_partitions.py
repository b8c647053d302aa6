"""JobLog joins the shared partition maintenance; logs older than 30 days go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import partitions
from jobs import services, tasks
from jobs.models import JobLog

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_logs_get_monthly_partitions_ahead(settings):
    report = partitions.maintain()
    assert not [e for e in report.errors if "job_logs" in e], report.errors
    config = partitions.config_for("jobs.JobLog")
    names = {p.name for p in partitions.partitions(config)}
    now = timezone.now()
    for months in range(0, settings.PARTITION_MONTHS_AHEAD + 1):
        start = partitions.add_months(partitions.month_start(now), months)
        assert f"job_logs_{start:%Y_%m}" in names
    assert "job_logs_default" in names


def test_prune_deletes_logs_older_than_30_days(power, make_local):
    make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    now = timezone.now()
    JobLog.objects.bulk_create([
        JobLog(job=job, created_at=now - timedelta(days=31), level="info", message="old"),
        JobLog(job=job, created_at=now - timedelta(days=29), level="info", message="recent"),
    ])
    assert tasks.prune_job_logs() == 1
    assert list(JobLog.objects.values_list("message", flat=True)) == ["recent"]
