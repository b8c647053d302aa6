"""Schedules: rules (cron in the rule's time zone, interval, once) that
submit a job from their template as their owner, exactly once per run time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from core.changes import UNSET, apply_changes, given
from core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    validate_model,
)
from core.jsonable import jsonable
from jobs import access
from jobs.command import validate_options
from jobs.models import Job, ScheduleRule
from jobs.services.job_submit import job_submit

SCHEDULE_FIELDS = ("name", "description", "rule_type", "cron_expression", "interval_seconds", "run_at", "timezone",
                   "job_template", "is_active")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationFailed(fields={"timezone": [_("Not a known IANA time zone.")]}) from None


def next_runs(rule: ScheduleRule, *, after: datetime, count: int = 1) -> list[datetime]:
    """The next ``count`` run times strictly after ``after`` (UTC). Cron is
    evaluated in the rule's time zone by cronsim."""
    zone = _zone(rule.timezone)
    out: list[datetime] = []
    if rule.rule_type == ScheduleRule.RuleType.ONCE:
        return [rule.run_at] if rule.run_at and rule.run_at > after else []
    if rule.rule_type == ScheduleRule.RuleType.INTERVAL:
        anchor = rule.run_at or rule.created_at or after
        step = timedelta(seconds=rule.interval_seconds)
        n = max(0, int((after - anchor) // step) + 1) if after >= anchor else 0
        while len(out) < count:
            out.append(anchor + n * step)
            n += 1
        return out
    try:
        it = CronSim(rule.cron_expression, after.astimezone(zone).replace(second=0, microsecond=0))
    except CronSimError as exc:
        raise ValidationFailed(fields={"cron_expression": [str(exc)]}) from None
    for moment in it:
        moment = moment.astimezone(ZoneInfo("UTC"))
        if moment > after:
            out.append(moment)
        if len(out) >= count:
            break
    return out


def _next_run(rule: ScheduleRule) -> datetime | None:
    return (next_runs(rule, after=timezone.now()) or [None])[0] if rule.is_active else None


def _validate_schedule(rule: ScheduleRule) -> None:
    _zone(rule.timezone)
    template = rule.job_template
    if not isinstance(template, dict) or set(template) - {"type", "source", "destination", "options", "priority"}:
        raise ValidationFailed(fields={"job_template": ["{type, source, destination?, options?, priority?}"]})
    # The template must be a job the owner may submit now (checked again per run).
    access.check_job(rule.user, template.get("type"), template.get("source"), template.get("destination"))
    validate_options(template.get("options"))
    if rule.rule_type == "cron" and not rule.cron_expression:
        raise ValidationFailed(fields={"cron_expression": [_("Required for a cron rule.")]})
    if rule.rule_type == "interval" and not rule.interval_seconds:
        raise ValidationFailed(fields={"interval_seconds": [_("Required for an interval rule.")]})
    if rule.rule_type == "once" and not rule.run_at:
        raise ValidationFailed(fields={"run_at": [_("Required for a once rule.")]})
    validate_model(rule, exclude=["user"])
    next_runs(rule, after=timezone.now())  # a bad cron expression fails here


def _owned(actor, rule: ScheduleRule) -> None:
    if rule.user_id != actor.pk and not access.is_superuser(actor):
        raise NotFound(_("No such schedule."))


@transaction.atomic
def schedule_create(*, actor, name: str, rule_type: str, job_template: dict, timezone_name: str = "UTC",
                    cron_expression: str | None = None, interval_seconds: int | None = None,
                    run_at: datetime | None = None, is_active: bool = True, description: str = "") -> ScheduleRule:
    rule = ScheduleRule(user=actor, name=name, rule_type=rule_type, job_template=job_template,
                        timezone=timezone_name, cron_expression=cron_expression or None,
                        interval_seconds=interval_seconds, run_at=run_at, is_active=is_active,
                        description=description or "")
    _validate_schedule(rule)
    rule.created_at = timezone.now()
    rule.next_run_at = _next_run(rule)
    rule.save()
    audit_record(action="schedule.created", actor=actor, resource_type="schedule", resource_id=str(rule.id),
                 details={f: jsonable(getattr(rule, f)) for f in SCHEDULE_FIELDS})
    return rule


@transaction.atomic
def schedule_update(*, actor, rule: ScheduleRule, name: str = UNSET, description: str = UNSET,
                    rule_type: str = UNSET, cron_expression: str | None = UNSET, interval_seconds: int | None = UNSET,
                    run_at: datetime | None = UNSET, timezone: str = UNSET, job_template: dict = UNSET,
                    is_active: bool = UNSET) -> ScheduleRule:
    """Change a schedule (core.changes: UNSET leaves a field alone). Changing
    only ``is_active`` is a pause or a resume, audited as such."""
    rule = ScheduleRule.objects.select_for_update().get(pk=rule.pk)
    _owned(actor, rule)
    fields = given(name=name, description=description, rule_type=rule_type, cron_expression=cron_expression,
                   interval_seconds=interval_seconds, run_at=run_at, timezone=timezone, job_template=job_template,
                   is_active=is_active)
    changed = apply_changes(rule, fields)
    _validate_schedule(rule)
    rule.next_run_at = _next_run(rule)
    rule.save()
    action = "schedule.updated"
    if set(fields) == {"is_active"}:
        action = "schedule.resumed" if rule.is_active else "schedule.paused"
    audit_record(action=action, actor=actor, resource_type="schedule", resource_id=str(rule.id), details=changed)
    return rule


@transaction.atomic
def schedule_delete(*, actor, rule: ScheduleRule) -> None:
    _owned(actor, rule)
    rule_id, name = str(rule.id), rule.name
    rule.delete()
    audit_record(action="schedule.deleted", actor=actor, resource_type="schedule", resource_id=rule_id,
                 details={"name": name})


def _submit_from(rule: ScheduleRule, run_at: datetime) -> Job:
    """The rule's job for one run time, submitted as its owner (the owner's permissions apply)."""
    template = rule.job_template
    return job_submit(
        actor=rule.user, type=template.get("type"), source=template.get("source"),
        destination=template.get("destination"), options=template.get("options"),
        priority=template.get("priority", 5), schedule=rule, schedule_run_at=run_at,
    )


def schedule_run(*, rule_id, run_at: datetime, actor=None) -> Job | None:
    """Create the job for one run time of a rule, exactly once: the rule row
    is locked (a second beat skips it) and (schedule, run time) is unique (a
    backstop if the lock is ever bypassed). Advances ``next_run_at``."""
    with transaction.atomic():
        rule = ScheduleRule.objects.select_for_update(skip_locked=True).filter(id=rule_id).first()
        if rule is None or rule.next_run_at != run_at or not rule.is_active:
            return None  # another beat has this rule, or already ran this time
        job = None
        if not Job.objects.filter(schedule=rule, schedule_run_at=run_at).exists():
            try:
                with transaction.atomic():
                    job = _submit_from(rule, run_at)
            except Conflict:
                job = None
            except (PermissionDenied, NotFound, ValidationFailed) as exc:
                audit_record(action="schedule.run_refused", actor=None, resource_type="schedule",
                             resource_id=str(rule.id), result="failure", level="warning",
                             details={"run_at": run_at.isoformat(), "error": exc.message})
        now = timezone.now()
        rule.last_run_at = run_at
        upcoming = next_runs(rule, after=max(run_at, now)) if rule.is_active else []
        rule.next_run_at = upcoming[0] if upcoming else None
        if rule.rule_type == ScheduleRule.RuleType.ONCE:
            rule.is_active = False
        rule.save(update_fields=["last_run_at", "next_run_at", "is_active", "updated_at"])
        return job


def schedules_tick(*, now: datetime | None = None) -> list[Job]:
    """Beat task body: every due active rule runs once for its due time."""
    now = now or timezone.now()
    created = []
    due = ScheduleRule.objects.filter(is_active=True, next_run_at__isnull=False, next_run_at__lte=now)
    for rule_id, run_at in due.values_list("id", "next_run_at"):
        job = schedule_run(rule_id=rule_id, run_at=run_at)
        if job is not None:
            created.append(job)
    return created


@transaction.atomic
def schedule_run_now(*, actor, rule: ScheduleRule) -> Job:
    """Admin/page action: one extra run of a schedule at this moment, as its owner."""
    _owned(actor, rule)
    job = _submit_from(rule, timezone.now())
    audit_record(action="schedule.run_now", actor=actor, resource_type="schedule", resource_id=str(rule.id),
                 details={"job_id": str(job.id)})
    return job
