"""Submitting a job: the user's access to both ends (checked again when it
runs), its options, priority and time; then its task is sent on commit."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from core.errors import Conflict, NotFound, ValidationFailed, validate_model
from jobs import access, realtime
from jobs.command import validate_options
from jobs.dispatch import enqueue_on_commit
from jobs.models import Job, ScheduleRule


def backup_folder_name(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H%M%SZ")


@transaction.atomic
def job_submit(
    *,
    actor,
    type: str,
    source: dict,
    destination: dict | None = None,
    priority: int = 5,
    scheduled_for: datetime | None = None,
    options: dict | None = None,
    max_retries: int | None = None,
    schedule: ScheduleRule | None = None,
    schedule_run_at: datetime | None = None,
) -> Job:
    src, dst = access.check_job(actor, type, source, destination)
    opts = validate_options(options)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 10:
        raise ValidationFailed(fields={"priority": [_("A whole number from 1 to 10.")]})
    if scheduled_for is not None and timezone.is_naive(scheduled_for):
        raise ValidationFailed(fields={"scheduled_for": [_("Give a time zone.")]})
    now = timezone.now()
    payload = {
        "source": {"remote": src.remote.name, "path": src.path},
        "destination": {"remote": dst.remote.name, "path": dst.path} if dst else None,
        "options": opts,
    }
    if type == "backup":
        # A copy into a dated folder under the destination, named once at
        # submit so retries write to the same folder.
        payload["backup_folder"] = backup_folder_name(schedule_run_at or scheduled_for or now)
    waiting = scheduled_for is not None and scheduled_for > now
    job = Job(
        user=actor, type=type, priority=priority, payload=payload, scheduled_for=scheduled_for,
        max_retries=settings.JOBS_DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
        status=Job.Status.PENDING if waiting else Job.Status.QUEUED,
        schedule=schedule, schedule_run_at=schedule_run_at,
    )
    # Constraints are the database's (the schedule-run uniqueness must surface as a Conflict).
    validate_model(job, exclude=["user", "schedule"], validate_constraints=False)
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError as exc:
        raise Conflict(_("This schedule run already has its job.")) from exc
    audit_record(action="job.created", actor=actor, resource_type="job", resource_id=str(job.id),
                 details={"type": type, "status": job.status, "payload": payload, "priority": priority,
                          "schedule_id": str(schedule.id) if schedule else None})
    enqueue_on_commit(job)
    realtime.job_progress(job)
    return job


@transaction.atomic
def job_run_previewed(*, actor, preview: Job) -> Job:
    """The real run of a finished dry run (the job page's "Run it for real"):
    the same job, submitted again by its owner without ``dry_run`` (the
    access checks and options validation of ``job_submit`` apply again)."""
    preview = Job.objects.select_for_update().filter(pk=preview.pk).first()
    if preview is None or preview.user_id != actor.pk:
        raise NotFound(_("No such job."))
    if not preview.options.get("dry_run"):
        raise Conflict(_("This job is not a preview."))
    if preview.status != Job.Status.COMPLETED:
        raise Conflict(_("A %(status)s preview cannot be run for real; retry the preview first.")
                       % {"status": preview.get_status_display().lower()})
    options = {k: v for k, v in preview.options.items() if k != "dry_run"}
    return job_submit(actor=actor, type=preview.type, source=preview.source, destination=preview.destination,
                      priority=preview.priority, options=options)
