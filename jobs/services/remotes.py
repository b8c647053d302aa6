"""Remotes: create, update, delete. One validation of a remote's options
for create and update; secret option values never reach the audit trail
(their names do, with the value shown as ***)."""

from __future__ import annotations

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.faults import OPEN, redis_policy
from core.changes import UNSET, diff
from core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    validate_model,
)
from jobs import access, rclone
from jobs.models import Job, Remote, RemotePermission, ScheduleRule
from jobs.secrets import decrypt_options, encrypt_options

CREATOR_GRANT = ["read", "write", "delete", "admin"]  # the creator manages what they created
MASKED = "***"


def _remote_options(remote_type: str, options, *, kept_secrets=()) -> tuple[dict, dict]:
    """The one validation of a remote's options, for create and update: the
    type's allow-list (program-running options refused), clean values, and a
    local root inside RCLONE_LOCAL_ROOTS. Returns (clear, secret)."""
    clear, secret = rclone.split_options(remote_type, options, kept_secrets=kept_secrets)
    if remote_type == "local":
        clear["root"] = access.validate_local_root(clear.get("root"))
    return clear, secret


def _has_active_jobs(remote_name: str) -> bool:
    return Job.objects.filter(
        Q(payload__source__remote=remote_name) | Q(payload__destination__remote=remote_name), status__in=Job.ACTIVE
    ).exists()


@redis_policy("remote_browse_invalidation", fails=OPEN, fallback=None,
              means="a changed remote's cached listings are not dropped; they expire after 60 s")
def _drop_browse_cache(pattern: str) -> None:
    cache.delete_pattern(pattern)


def _drop_browse_cache_on_commit(remote: Remote) -> None:
    pattern = f"cache:files:{remote.id}:*"  # selectors.remote_browse's keys
    transaction.on_commit(lambda: _drop_browse_cache(pattern))


@transaction.atomic
def remote_create(*, actor, name: str, type: str, options: dict | None = None, description: str = "") -> Remote:
    if not access.can_create_remotes(actor):
        raise PermissionDenied(_("Only staff and power users may create remotes."))
    access.validate_remote_name(name)
    clear, secret = _remote_options(type, options or {})
    if Remote.objects.filter(name=name).exists():
        raise Conflict(_("A remote with this name exists."), fields={"name": [_("Taken.")]})
    remote = Remote(name=name, type=type, options=clear, secret_options=encrypt_options(secret),
                    description=description or "", created_by=actor)
    validate_model(remote)
    remote.save()
    RemotePermission.objects.create(remote=remote, user=actor, permissions=CREATOR_GRANT, created_by=actor)
    audit_record(action="remote.created", actor=actor, resource_type="remote", resource_id=str(remote.id),
                 details={"name": name, "type": type, "options": clear, "secret_options": sorted(secret),
                          "creator_grant": CREATOR_GRANT})
    return remote


def _check_remove_secrets(backend, remove_secrets) -> list[str]:
    if remove_secrets is UNSET:
        return []
    if not isinstance(remove_secrets, list) or any(
        not isinstance(k, str) or k not in backend.secrets for k in remove_secrets
    ):
        raise ValidationFailed(fields={"remove_secrets": [
            f"A list from {', '.join(sorted(backend.secrets)) or '(none: this type has no secrets)'}."]})
    return remove_secrets


def _rename_in_schedules(old_name: str, new_name: str) -> list[str]:
    """Carry a rename into the schedule templates that name the remote."""
    renamed_in = []
    sides = Q(job_template__source__remote=old_name) | Q(job_template__destination__remote=old_name)
    for rule in ScheduleRule.objects.select_for_update().filter(sides):
        template = dict(rule.job_template)
        for side in ("source", "destination"):
            if isinstance(template.get(side), dict) and template[side].get("remote") == old_name:
                template[side] = {**template[side], "remote": new_name}
        rule.job_template = template
        rule.save(update_fields=["job_template", "updated_at"])
        renamed_in.append(str(rule.id))
    return renamed_in


@transaction.atomic
def remote_update(*, actor, remote: Remote, name: str = UNSET, options: dict = UNSET, description: str = UNSET,
                  is_active: bool = UNSET, remove_secrets: list = UNSET) -> Remote:
    """Change a remote (core.changes: UNSET leaves a field as it is). The
    type is fixed (other options belong to another type: make a new remote).

    ``options`` replaces the non-secret options (as at create, so a client
    sends back what it read), with the same validation as create. Secret
    options are never read back, so an omitted or blank secret keeps its
    stored value; ``remove_secrets`` names the ones to drop. Renaming or
    deactivating is refused while jobs use the remote (their payloads and
    slot locks name it); a rename carries over to schedule templates.
    Only staff and power users who administer the remote may do this, as
    for creating one (options decide what the remote reaches)."""
    remote = Remote.objects.select_for_update().filter(pk=remote.pk).first()
    if remote is None:
        raise NotFound(_("No such remote."))
    if not access.can_edit_remote(actor, access.access_for(actor, remote)):
        raise PermissionDenied(_("Only staff and power users who administer this remote may change it."))
    backend = rclone.BACKENDS[remote.type]
    stored = decrypt_options(remote.secret_options)
    to_remove = _check_remove_secrets(backend, remove_secrets)
    removed = sorted(set(to_remove) & set(stored))
    kept = {k: v for k, v in stored.items() if k not in removed}
    clear, secrets_given = dict(remote.options), {}
    if options is not UNSET or removed:
        clear, secrets_given = _remote_options(remote.type, remote.options if options is UNSET else options,
                                               kept_secrets=kept)
        both = sorted(set(secrets_given) & set(to_remove))
        if both:
            raise ValidationFailed(fields={f"options.{k}": [_("Both set and removed.")] for k in both})
    if description is not UNSET and not isinstance(description, str):
        raise ValidationFailed(fields={"description": [_("Must be a string.")]})
    if is_active is not UNSET and not isinstance(is_active, bool):
        raise ValidationFailed(fields={"is_active": [_("Must be true or false.")]})

    changed = {}
    old_name = remote.name
    if name is not UNSET and name != old_name:
        access.validate_remote_name(name, field_name="name")
        if Remote.objects.filter(name=name).exclude(pk=remote.pk).exists():
            raise Conflict(_("A remote with this name exists."), fields={"name": [_("Taken.")]})
        changed["name"] = diff(old_name, name)
    if description is not UNSET and description != remote.description:
        changed["description"] = diff(remote.description, description)
    if is_active is not UNSET and is_active != remote.is_active:
        changed["is_active"] = diff(remote.is_active, is_active)
    if ("name" in changed or is_active is False and "is_active" in changed) and _has_active_jobs(old_name):
        raise Conflict(_("The remote has active jobs: wait for them or cancel them first."))
    options_changed = sorted(k for k in set(clear) | set(remote.options) if clear.get(k) != remote.options.get(k))
    secrets_changed = sorted(k for k in secrets_given if stored.get(k) != secrets_given[k])
    if options_changed:
        changed["options"] = diff({k: remote.options.get(k) for k in options_changed},
                                  {k: clear.get(k) for k in options_changed})
    if secrets_changed or removed:
        touched = sorted({*secrets_changed, *removed})
        # Which secrets were set before and after, never their values.
        changed["secret_options"] = diff({k: MASKED for k in touched if k in stored},
                                         {k: MASKED for k in touched if k not in removed})
    if not changed:
        return remote  # nothing to change: no write, no audit entry

    for field in ("name", "description", "is_active"):
        if field in changed:
            setattr(remote, field, changed[field]["new"])
    remote.options = clear
    if "secret_options" in changed:
        remote.secret_options = encrypt_options({**kept, **secrets_given})
    validate_model(remote, exclude=["created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            remote.save()
    except IntegrityError as exc:  # a concurrent create took the name
        raise Conflict(_("A remote with this name exists."), fields={"name": [_("Taken.")]}) from exc

    context = {"remote": remote.name}
    if "name" in changed:
        context["schedules_updated"] = _rename_in_schedules(old_name, remote.name)
    if "options" in changed or "secret_options" in changed:
        _drop_browse_cache_on_commit(remote)
    audit_record(action="remote.updated", actor=actor, resource_type="remote", resource_id=str(remote.id),
                 details={**context, **changed})
    return remote


@transaction.atomic
def remote_delete(*, actor, remote: Remote) -> None:
    if not access.access_for(actor, remote).is_admin:
        raise PermissionDenied(_("You do not administer this remote."))
    if _has_active_jobs(remote.name):
        raise Conflict(_("The remote has active jobs."))
    remote_id, name = str(remote.id), remote.name
    remote.delete()
    audit_record(action="remote.deleted", actor=actor, resource_type="remote", resource_id=remote_id,
                 details={"name": name})
