"""Partition maintenance: months ahead, retention (export then drop), DEFAULT rows."""

import gzip
import hashlib
import json
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from audit import anchors
from audit.models import AuditLog
from audit.services import append_entry, audit_record
from audit.verification import BROKEN_LINK, verify
from core import partitions
from core.partitions import add_months, config_for, month_start

pytestmark = pytest.mark.django_db


def attached_months():
    config = config_for("audit.AuditLog")
    return {p.start for p in partitions.partitions(config) if p.attached and not p.is_default}


def table_exists(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def test_config_lists_the_audit_table_with_six_months_retention():
    config = config_for("audit.AuditLog")
    assert (config.table, config.retention_months) == ("audit_logs", 6)


def test_the_current_and_three_future_months_exist_from_00_utc_on_the_1st():
    # Created after migrate (post_migrate) and kept by the maintenance.
    partitions.maintain()
    now = datetime.now(timezone.utc)
    expected = {add_months(month_start(now), n) for n in range(4)}
    assert expected <= attached_months()
    assert all(m.day == 1 and m.hour == 0 and m.minute == 0 and m.tzinfo for m in expected)
    assert partitions.plan_table(config_for("audit_logs")) == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s",
                       [f"audit_logs_{now:%Y_%m}"])
        bound = cursor.fetchone()[0]
    assert f"'{now:%Y-%m}-01 00:00:00+00'" in bound


def test_months_ahead_are_created_even_without_rows(settings):
    settings.PARTITION_MONTHS_AHEAD = 5
    far = add_months(month_start(datetime.now(timezone.utc)), 5)
    assert far not in attached_months()
    report = partitions.maintain()
    assert any(f"audit_logs_{far:%Y_%m}" in line for line in report.done)
    assert far in attached_months()
    assert AuditLog.objects.filter(created_at__gte=far).count() == 0


def test_dry_run_prints_the_plan_and_changes_nothing(settings):
    settings.PARTITION_MONTHS_AHEAD = 6
    far = add_months(month_start(datetime.now(timezone.utc)), 6)
    out = StringIO()
    call_command("partitions_maintain", "--dry-run", stdout=out)
    assert f"create audit_logs_{far:%Y_%m}" in out.getvalue()
    assert far not in attached_months()


def old_chain():
    """Two entries eight months ago (in their own partition), then two now."""
    config = config_for("audit.AuditLog")
    old_month = add_months(month_start(datetime.now(timezone.utc)), -8)
    partitions.create_month(config, old_month)
    old = [append_entry(action="test.old", at=old_month.replace(day=3 + n)) for n in range(2)]
    new = [audit_record(action="test.new") for _ in range(2)]
    return config, old_month, old, new


def test_retention_exports_the_partition_then_drops_it(audit_dirs):
    config, old_month, old, new = old_chain()
    name = f"audit_logs_{old_month:%Y_%m}"
    anchors.write_anchor()  # an anchor on the newest entry survives retention

    report = partitions.maintain()

    assert any(name in line and "drop" in line for line in report.done)
    assert not table_exists(name)
    assert not AuditLog.objects.filter(pk__in=[e.pk for e in old]).exists()
    archive = audit_dirs / "archive" / f"{name}.jsonl.gz"
    rows = [json.loads(line) for line in gzip.open(archive).read().decode().splitlines()]
    assert [r["id"] for r in rows] == [str(e.pk) for e in old]
    assert rows[0]["hash"] == old[0].hash and rows[0]["action"] == "test.old"
    checksum, filename = (audit_dirs / "archive" / f"{name}.jsonl.gz.sha256").read_text().split()
    assert filename == archive.name and checksum == hashlib.sha256(archive.read_bytes()).hexdigest()

    # Verification starts from the first remaining entry, linked to the
    # dropped segment's last hash as recorded in the digest file.
    retention = [r.data for r in anchors.load() if r.kind == "retention"]
    assert retention[-1]["last_id"] == str(old[-1].pk) and retention[-1]["last_hash"] == old[-1].hash
    result = verify()
    assert result.ok and result.checked == AuditLog.objects.count()


def test_without_the_retention_record_a_missing_head_is_a_broken_link():
    config, old_month, old, new = old_chain()
    partitions.maintain()
    anchors.digest_path().unlink()  # the record is gone: nothing vouches for the cut
    result = verify()
    first_remaining = AuditLog.objects.order_by("created_at", "id").first()
    assert (result.first_broken.id, result.first_broken.reason) == (str(first_remaining.pk), BROKEN_LINK)


def test_a_partition_left_detached_is_finished_next_run(audit_dirs):
    config, old_month, old, new = old_chain()
    name = f"audit_logs_{old_month:%Y_%m}"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_logs DETACH PARTITION {name}")
    steps = partitions.plan_table(config)
    assert [(s.action, s.partition) for s in steps] == [("finish-retire", name)]
    partitions.maintain()
    assert not table_exists(name)
    assert (audit_dirs / "archive" / f"{name}.jsonl.gz").exists()


def test_rows_in_default_are_reported_and_moved(settings):
    stray_month = add_months(month_start(datetime.now(timezone.utc)), 9)
    assert stray_month not in attached_months()
    stray = append_entry(action="test.stray", at=stray_month.replace(day=2))
    assert partitions.count_rows("audit_logs_default") == 1

    report = partitions.maintain()
    assert report.default_rows == {"audit_logs": 1}
    alert = AuditLog.objects.get(action="alert.partition.default_rows")
    assert alert.level == "critical" and alert.details["default_rows"] == {"audit_logs": 1}

    # The alert itself went into DEFAULT too: created_at never goes back along
    # the chain, so it follows the stray row into that month.
    waiting = partitions.count_rows("audit_logs_default")
    assert waiting == 2
    out = StringIO()
    call_command("partitions_move_default", stdout=out)
    assert f"moved {waiting} rows" in out.getvalue()
    assert partitions.count_rows("audit_logs_default") == 0
    assert stray_month in attached_months()
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_logs WHERE id = %s", [stray.pk])
        assert cursor.fetchone()[0] == f"audit_logs_{stray_month:%Y_%m}"
    assert verify().ok  # moving rows does not touch the chain
    assert partitions.maintain().default_rows == {}


def test_status_lists_partitions_counts_sizes_and_next_action(settings):
    audit_record(action="test.counted")
    settings.PARTITION_MONTHS_AHEAD = 4
    [table] = [s for s in partitions.status() if s.config.table == "audit_logs"]
    current = next(p for p in table.partitions if p.name == f"audit_logs_{datetime.now(timezone.utc):%Y_%m}")
    assert current.rows == AuditLog.objects.filter(created_at__gte=current.start).count() > 0
    assert current.size_bytes > 0
    assert any(p.is_default for p in table.partitions)
    assert any("create audit_logs_" in step for step in table.next_steps)


# --------------------------------------------------------------------------- the registry


def test_every_partitioned_table_registers_from_its_own_app():
    assert {c.table: c.label for c in partitions.configs()} == {
        "audit_logs": "audit.AuditLog", "messages": "chatroom.Message", "job_logs": "jobs.JobLog",
        "system_metrics": "ops.SystemMetric", "performance_metrics": "ops.PerformanceMetric"}


def test_retention_is_read_from_each_tables_setting_when_maintaining(settings):
    settings.AUDIT_RETENTION_MONTHS = 2
    settings.CHAT_RETENTION_MONTHS = None
    assert config_for("audit_logs").retention_months == 2
    assert config_for("messages").retention_months is None
    assert config_for("job_logs").retention_months == settings.JOB_LOG_RETENTION_MONTHS == 1


def test_only_a_model_partitioned_by_month_on_created_at_can_register():
    with pytest.raises(ImproperlyConfigured, match="partitioned by RANGE on created_at"):
        partitions.register("accounts.User", retention_setting="AUDIT_RETENTION_MONTHS")
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        partitions.register("audit.AuditLog", retention_setting="CHAT_RETENTION_MONTHS")


def test_the_post_migrate_ensure_covers_only_the_sending_apps_tables(settings):
    settings.PARTITION_MONTHS_AHEAD = 7
    far = add_months(month_start(datetime.now(timezone.utc)), 7)
    partitions.ensure_partitions_after_migrate(apps.get_app_config("chatroom"))
    names = {p.name for c in partitions.configs() for p in partitions.partitions(c)}
    assert f"messages_{far:%Y_%m}" in names
    assert f"audit_logs_{far:%Y_%m}" not in names and f"job_logs_{far:%Y_%m}" not in names


def reloptions(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [name])
        return cursor.fetchone()[0]


def test_a_new_month_gets_its_tables_storage_parameters(settings):
    """messages registers autovacuum after 2% new rows (the unread counts'
    index-only scans); each new month has it, audit_logs' months nothing."""
    settings.PARTITION_MONTHS_AHEAD = 8
    far = add_months(month_start(datetime.now(timezone.utc)), 8)
    partitions.maintain()
    assert reloptions(f"messages_{far:%Y_%m}") == ["autovacuum_vacuum_insert_scale_factor=0.02"]
    assert reloptions(f"audit_logs_{far:%Y_%m}") is None
    # The months that existed before were given it by the migration.
    assert reloptions(f"messages_{month_start(datetime.now(timezone.utc)):%Y_%m}") == [
        "autovacuum_vacuum_insert_scale_factor=0.02"]


def test_storage_parameters_are_checked_names_and_values():
    with pytest.raises(ImproperlyConfigured, match="not a storage parameter"):
        partitions.register("chatroom.Message", storage={"fillfactor = 10); DROP TABLE x; --": "1"})
    with pytest.raises(ImproperlyConfigured, match="not a storage parameter"):
        partitions.register("chatroom.Message", storage={"fillfactor": "10); DROP TABLE x"})
