"""Grants on a remote: grant (or replace) and revoke. Who may grant may
revoke: ``admin`` on the remote."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import audit_record
from core.changes import created
from core.errors import NotFound, PermissionDenied, ValidationFailed
from jobs import access
from jobs.models import Remote, RemotePermission


@transaction.atomic
def permission_grant(
    *, actor, remote: Remote, user=None, role=None, department=None, permissions: list, path_rules: list | None = None
) -> RemotePermission:
    """Create or replace the grant for one grantee (a user, an org role or a
    department) on a remote."""
    if not access.access_for(actor, remote).is_admin:
        raise PermissionDenied(_("You do not administer this remote."))
    if sum(x is not None for x in (user, role, department)) != 1:
        raise ValidationFailed(fields={"user_id": [_("Give exactly one of user_id, role_id, department_id.")]})
    perms = access.validate_permissions(permissions)
    rules = access.validate_path_rules(path_rules)
    grantee = {"user": user} if user is not None else {"role": role} if role is not None else {"department": department}
    grant = RemotePermission.objects.select_for_update().filter(remote=remote, **grantee).first()
    before = None
    if grant is None:
        grant = RemotePermission(remote=remote, created_by=actor, **grantee)
    else:
        before = {"permissions": grant.permissions, "path_rules": grant.path_rules}
    grant.permissions, grant.path_rules, grant.is_active = perms, rules, True
    grant.save()
    audit_record(
        action="remote.permission.granted", actor=actor, resource_type="remote_permission", resource_id=str(grant.id),
        details={"remote": remote.name, **{k: str(v.pk) for k, v in grantee.items()},
                 **created({"permissions": perms, "path_rules": rules}, before)},
    )
    return grant


@transaction.atomic
def permission_revoke(*, actor, grant: RemotePermission) -> None:
    """Remove a grant. Takes effect at once: the next submit is refused, and
    a job already queued is refused when it runs (access is checked again
    then)."""
    grant = RemotePermission.objects.select_for_update().select_related("remote").filter(pk=grant.pk).first()
    if grant is None:
        raise NotFound(_("No such grant."))  # revoked meanwhile
    if not access.access_for(actor, grant.remote).is_admin:
        raise PermissionDenied(_("You do not administer this remote."))
    grant_id = str(grant.id)
    details = {"remote": grant.remote.name, "permissions": grant.permissions, "path_rules": grant.path_rules,
               **{f"{k}_id": str(getattr(grant, f"{k}_id")) for k in ("user", "role", "department")
                  if getattr(grant, f"{k}_id")}}
    grant.delete()
    audit_record(action="remote.permission.revoked", actor=actor, resource_type="remote_permission",
                 resource_id=grant_id, details=details)
