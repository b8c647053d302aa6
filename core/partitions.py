"""Partition maintenance for every monthly range-partitioned table.

Each partitioned table registers here, from its own app's
``AppConfig.ready()``::

    partitions.register("audit.AuditLog", retention_setting="AUDIT_RETENTION_MONTHS",
                        before_drop=anchors.record_retention)

Each is range-partitioned on ``created_at`` (django-postgres-extra 2.0.9)
with a DEFAULT partition from its migration. For each table this module:

- keeps the current month and ``PARTITION_MONTHS_AHEAD`` future months created
  (``<table>_YYYY_MM``, from 00:00 UTC on the 1st), rows or not, also right
  after ``migrate`` (post_migrate);
- applies retention: a month whose whole range is older than the table's
  retention setting (whole months; None keeps forever) is detached, exported
  to ``PARTITION_ARCHIVE_DIR/<table>_YYYY_MM.jsonl.gz`` plus a ``.sha256``
  file, handed to the table's ``before_drop`` hook, then dropped. A partition
  left detached by an interrupted run is finished on the next one;
- reports rows in the DEFAULT partition (a staff alert, ``core.alerts``);
  ``move_default_rows`` moves them into their monthly partitions.

``maintain`` is what the daily beat task (``core.tasks``) and the
``partitions_maintain`` command run.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction

from core.alerts import alert_staff

logger = logging.getLogger(__name__)

PARTITION_COMMENT = "monthly partition, managed by core.partitions"
_BOUND_RE = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Registration:
    label: str
    retention_setting: str | None
    before_drop: Callable | None
    storage: tuple = ()


_registry: dict[str, Registration] = {}


_STORAGE_NAME = re.compile(r"^[a-z_.]+$")
_STORAGE_VALUE = re.compile(r"^[0-9.]+$|^(on|off|true|false)$")


def register(label: str, *, retention_setting: str | None = None, before_drop: Callable | None = None,
             storage: dict | None = None) -> None:
    """Put a model (``"app.Model"``) under maintenance; call it from the owning
    app's ``AppConfig.ready()``. ``retention_setting`` names the setting
    holding its retention in whole months (its value None keeps forever;
    no setting at all keeps forever too). ``before_drop(config=, table=,
    export=, using=)`` runs in the transaction that drops a retired partition.
    ``storage``: storage parameters each new monthly partition is created
    with (PostgreSQL keeps them per partition, not on the parent), such as
    autovacuum thresholds."""
    model = apps.get_model(label)
    if getattr(model, "_partitioning_meta", None) is None or model._partitioning_meta.key != ["created_at"]:
        raise ImproperlyConfigured(f"{label} must be a PostgresPartitionedModel partitioned by RANGE on created_at")
    storage = tuple(sorted((storage or {}).items()))
    for name, value in storage:
        if not _STORAGE_NAME.match(name) or not _STORAGE_VALUE.match(str(value)):
            raise ImproperlyConfigured(f"{label}: not a storage parameter: {name}={value}")
    registration = Registration(label, retention_setting, before_drop, storage)
    if _registry.get(label, registration) != registration:
        raise ImproperlyConfigured(f"{label} is already registered for partition maintenance")
    _registry[label] = registration


@dataclass(frozen=True)
class TableConfig:
    label: str
    model: type
    retention_months: int | None
    before_drop: Callable | None = None
    storage: tuple = ()

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def default_partition(self) -> str:
        return f"{self.table}_default"

    def month_partition(self, start: datetime) -> str:
        return f"{self.table}_{start:%Y_%m}"


def configs() -> list[TableConfig]:
    """Every registered table, with its retention as the settings say now."""
    return [
        TableConfig(
            r.label, apps.get_model(r.label),
            getattr(settings, r.retention_setting) if r.retention_setting else None,
            r.before_drop, r.storage,
        )
        for r in _registry.values()
    ]


def config_for(label_or_table: str) -> TableConfig:
    for config in configs():
        if label_or_table in (config.label, config.table):
            return config
    raise KeyError(f"{label_or_table} is not a registered partitioned table")


# --------------------------------------------------------------------------- months


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(moment: datetime, months: int) -> datetime:
    return moment + relativedelta(months=months)


def retention_cutoff(config: TableConfig, now: datetime) -> datetime | None:
    """Months ending at or before this instant are past retention: the
    current month plus ``retention_months`` whole months before it are kept."""
    if config.retention_months is None:
        return None
    return add_months(month_start(now), -config.retention_months)


# --------------------------------------------------------------------------- introspection


@dataclass
class Partition:
    name: str
    start: datetime | None = None
    end: datetime | None = None
    is_default: bool = False
    attached: bool = True
    rows: int | None = None
    estimated: bool = False
    size_bytes: int | None = None


def _parse_bound(text: str) -> datetime:
    # Rendered in the connection's time zone, which Django sets to UTC.
    return datetime.fromisoformat(text.replace(" ", "T")).astimezone(timezone.utc)


def table_exists(table: str, using: str = "default") -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def partitions(config: TableConfig, *, using: str = "default", with_stats: bool = False) -> list[Partition]:
    """Attached partitions, plus detached monthly tables an interrupted
    retention run left behind (``attached=False``), oldest first."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass
            """,
            [config.table],
        )
        rows = cursor.fetchall()
        cursor.execute(
            """
            SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ %s
              AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
            """,
            [f"^{re.escape(config.table)}_[0-9]{{4}}_[0-9]{{2}}$"],
        )
        detached = cursor.fetchall()

    result = []
    for name, bound, reltuples, size in rows:
        part = Partition(name=name, size_bytes=size)
        if bound == "DEFAULT":
            part.is_default = True
        else:
            match = _BOUND_RE.search(bound)
            if match:
                part.start, part.end = _parse_bound(match.group(1)), _parse_bound(match.group(2))
        if with_stats:
            part.rows, part.estimated = (reltuples, True) if reltuples >= 0 and not part.is_default else (None, False)
        result.append(part)
    for name, reltuples, size in detached:
        year, month = name.rsplit("_", 2)[-2:]
        start = datetime(int(year), int(month), 1, tzinfo=timezone.utc)
        result.append(Partition(name=name, start=start, end=add_months(start, 1), attached=False, size_bytes=size))
    if with_stats:
        # Exact counts where they matter and are cheap: DEFAULT (should be
        # empty), never-analyzed partitions, and small ones.
        for part in result:
            if part.rows is None or part.rows < 100_000:
                part.rows, part.estimated = count_rows(part.name, using=using), False
    result.sort(key=lambda p: (p.is_default, p.start or datetime.max.replace(tzinfo=timezone.utc)))
    return result


def count_rows(table: str, *, using: str = "default") -> int:
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


# --------------------------------------------------------------------------- planning


@dataclass
class Step:
    table: str
    action: str  # "create", "create-default", "retire" (detach, export, drop), "finish-retire"
    partition: str
    start: datetime | None = None
    end: datetime | None = None

    def describe(self) -> str:
        span = f" [{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d})" if self.start and self.end else ""
        verb = {
            "create": "create",
            "create-default": "create DEFAULT partition",
            "retire": "detach, export and drop (past retention)",
            "finish-retire": "export and drop (left detached by an interrupted run)",
        }[self.action]
        return f"{self.table}: {verb} {self.partition}{span}"


def plan_table(config: TableConfig, *, now: datetime | None = None, using: str = "default") -> list[Step]:
    now = now or datetime.now(timezone.utc)
    existing = partitions(config, using=using)
    attached = [p for p in existing if p.attached and not p.is_default]
    steps: list[Step] = []

    if not any(p.is_default for p in existing):
        steps.append(Step(config.table, "create-default", config.default_partition))

    cutoff = retention_cutoff(config, now)
    for part in existing:
        if not part.attached:
            steps.append(Step(config.table, "finish-retire", part.name, part.start, part.end))
        elif cutoff and not part.is_default and part.end and part.end <= cutoff:
            steps.append(Step(config.table, "retire", part.name, part.start, part.end))

    first = month_start(now)
    for offset in range(settings.PARTITION_MONTHS_AHEAD + 1):
        start = add_months(first, offset)
        end = add_months(start, 1)
        if not any(p.start and p.end and p.start < end and start < p.end for p in attached):
            steps.append(Step(config.table, "create", config.month_partition(start), start, end))
    return steps


def plan(*, now: datetime | None = None, using: str = "default") -> list[Step]:
    return [step for config in configs() for step in plan_table(config, now=now, using=using)]


# --------------------------------------------------------------------------- actions


def create_month(config: TableConfig, start: datetime, *, using: str = "default") -> str:
    """Create the monthly partition starting at ``start`` (the 1st, 00:00 UTC)."""
    start = month_start(start)
    name = config.month_partition(start)
    connection = connections[using]
    qn = connection.ops.quote_name
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {qn(name)} PARTITION OF {qn(config.table)} FOR VALUES FROM (%s) TO (%s)"
            + storage_clause(config.storage),
            [start, add_months(start, 1)],
        )
        cursor.execute(f"COMMENT ON TABLE {qn(name)} IS %s", [PARTITION_COMMENT])
    return name


def storage_clause(storage) -> str:
    """`` WITH (name = value, ...)`` for CREATE TABLE, from checked names
    and values (register())."""
    return f" WITH ({', '.join(f'{name} = {value}' for name, value in storage)})" if storage else ""


def create_default(config: TableConfig, *, using: str = "default") -> None:
    connection = connections[using]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {qn(config.default_partition)} PARTITION OF {qn(config.table)} DEFAULT")


@dataclass
class Export:
    path: Path
    sha256: str
    rows: int


def export_table(table: str, *, using: str = "default") -> Export:
    """Write every row of ``table`` as gzip JSON lines, oldest first, plus a
    ``sha256sum``-style checksum file. Written to a temporary name and renamed,
    so a file under the final name is always complete."""
    directory = Path(settings.PARTITION_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{table}.jsonl.gz"
    tmp = path.with_suffix(".gz.partial")
    connection = connections[using]
    digest = hashlib.sha256()
    rows = 0

    class _Hashing:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            digest.update(data)
            return self.fh.write(data)

        def flush(self):
            self.fh.flush()

    with open(tmp, "wb") as raw, gzip.GzipFile(filename=path.stem, mode="wb", fileobj=_Hashing(raw), mtime=0) as gz:
        with transaction.atomic(using=using), connection.chunked_cursor() as cursor:
            cursor.execute(
                f"SELECT row_to_json(t)::text FROM {connection.ops.quote_name(table)} t ORDER BY t.created_at"
            )
            while batch := cursor.fetchmany(5000):
                gz.write("".join(line + "\n" for (line,) in batch).encode())
                rows += len(batch)
        gz.close()
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)
    sha = digest.hexdigest()
    (directory / f"{path.name}.sha256").write_text(f"{sha}  {path.name}\n")
    return Export(path=path, sha256=sha, rows=rows)


def retire(config: TableConfig, name: str, *, attached: bool = True, using: str = "default") -> Export:
    """Detach, export, hand to ``before_drop``, then drop one partition.

    The detach commits on its own, so the export does not hold a lock on the
    parent; a crash after it leaves a detached table that the next plan
    finishes ("finish-retire")."""
    connection = connections[using]
    qn = connection.ops.quote_name
    if attached:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {qn(config.table)} DETACH PARTITION {qn(name)}")
    export = export_table(name, using=using)
    if count_rows(name, using=using) != export.rows:
        raise RuntimeError(f"export of {name} is incomplete; the table is kept")
    with transaction.atomic(using=using):
        if config.before_drop:
            config.before_drop(config=config, table=name, export=export, using=using)
        with connection.cursor() as cursor:
            # DROP refuses a table with pending deferred-FK checks (rows written
            # earlier in this same transaction); run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"DROP TABLE {qn(name)}")
    logger.info("retired %s: %s rows exported to %s (sha256 %s)", name, export.rows, export.path, export.sha256)
    return export


def move_default_rows(config: TableConfig, *, using: str = "default") -> int:
    """Move every row of the DEFAULT partition into its monthly partition.

    One transaction: detach DEFAULT, create the missing months, re-insert its
    rows through the parent (which routes them), drop it and attach a fresh
    DEFAULT. No UPDATE or DELETE happens, so append-only tables allow it.
    Returns the number of rows moved."""
    connection = connections[using]
    qn = connection.ops.quote_name
    default = config.default_partition
    columns = ", ".join(qn(f.column) for f in config.model._meta.concrete_fields
                        if not getattr(f, "generated", False))
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {qn(config.table)} DETACH PARTITION {qn(default)}")
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') FROM {qn(default)}"
        )
        months = [m.replace(tzinfo=timezone.utc) for (m,) in cursor.fetchall()]
        attached = [p for p in partitions(config, using=using) if p.attached and not p.is_default]
        for start in months:
            if not any(p.start <= start < p.end for p in attached if p.start and p.end):
                create_month(config, start, using=using)
        cursor.execute(f"INSERT INTO {qn(config.table)} ({columns}) SELECT {columns} FROM {qn(default)}")
        moved = cursor.rowcount
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # see retire()
        cursor.execute(f"DROP TABLE {qn(default)}")
        create_default(config, using=using)
    return moved


# --------------------------------------------------------------------------- the maintenance run


@dataclass
class Report:
    done: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    default_rows: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def maintain(*, dry_run: bool = False, now: datetime | None = None, using: str = "default") -> Report:
    report = Report()
    for config in configs():
        if not table_exists(config.table, using=using):
            report.errors.append(f"{config.table}: table missing (run migrate)")
            continue
        for step in plan_table(config, now=now, using=using):
            report.planned.append(step.describe())
            if dry_run:
                continue
            try:
                apply_step(config, step, using=using)
                report.done.append(step.describe())
            except (DatabaseError, OSError, RuntimeError) as exc:
                logger.exception("partition maintenance step failed: %s", step.describe())
                report.errors.append(f"{step.describe()}: {exc}")
        default_rows = count_rows(config.default_partition, using=using) if table_exists(
            config.default_partition, using=using) else 0
        if default_rows:
            report.default_rows[config.table] = default_rows
    if report.default_rows and not dry_run:
        alert_staff(
            code="partition.default_rows",
            message="Rows found in DEFAULT partitions; run `manage.py partitions_move_default`.",
            details={"default_rows": report.default_rows},
        )
    if report.errors and not dry_run:
        alert_staff(code="partition.maintenance_failed", message="Partition maintenance had errors.",
                    details={"errors": report.errors})
    return report


def apply_step(config: TableConfig, step: Step, *, using: str = "default") -> None:
    if step.action == "create":
        create_month(config, step.start, using=using)
    elif step.action == "create-default":
        create_default(config, using=using)
    elif step.action in ("retire", "finish-retire"):
        retire(config, step.partition, attached=step.action == "retire", using=using)
    else:  # pragma: no cover - a new Step kind without its action
        raise ValueError(step.action)


def ensure_partitions_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate (sent once per app): create the current and future months
    of that app's tables (never retires)."""
    for config in configs():
        if config.model._meta.app_label != sender.label or not table_exists(config.table, using=using):
            continue
        for step in plan_table(config, using=using):
            if step.action in ("create", "create-default"):
                apply_step(config, step, using=using)


@dataclass
class TableStatus:
    config: TableConfig
    partitions: list[Partition]
    next_steps: list[str]
    default_rows: int


def status(*, using: str = "default") -> list[TableStatus]:
    """For the staff page: every partitioned table, its partitions and plan."""
    result = []
    for config in configs():
        if not table_exists(config.table, using=using):
            continue
        parts = partitions(config, using=using, with_stats=True)
        default_rows = sum(p.rows or 0 for p in parts if p.is_default)
        result.append(TableStatus(config, parts, [s.describe() for s in plan_table(config, using=using)], default_rows))
    return result
