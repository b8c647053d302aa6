"""Organizations: create, update (switching one off takes org.deactivate),
and the transfer of ownership."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from core.changes import UNSET, apply_changes, created, diff, given, snapshot
from core.errors import PermissionDenied, ValidationFailed
from orgs.models import ADMIN, OWNER, Membership, Organization, Role
from orgs.permissions import active_membership_q, bump_version
from orgs.services.base import Who, lock_org, require_member, save

ORG_FIELDS = ("name", "display_name", "description", "settings", "max_members", "is_active", "owner")


@transaction.atomic
def org_create(
    *,
    owner: User,
    name: str,
    display_name: str = "",
    description: str = "",
    max_members: int | None = None,
    settings: dict | None = None,
    actor: User | None = None,
) -> Organization:
    """Create an org; `owner` becomes its owner member. `actor` (default: the
    owner) is who did it, e.g. staff creating an org for someone in the admin."""
    actor = actor or owner
    if not owner.is_active:
        raise PermissionDenied(_("Inactive accounts cannot create organizations."))
    org = Organization(owner=owner, name=name, display_name=display_name, description=description)
    if max_members is not None:
        org.max_members = max_members
    if settings is not None:
        org.settings = settings
    save(org)
    Membership(user=owner, org=org, role=Role.objects.system(OWNER), assigned_by=actor).save()
    Who(actor).audit("org.created", org=org, resource=org, details=created(snapshot(org, ORG_FIELDS)))
    return org


@transaction.atomic
def org_update(
    *,
    actor: User,
    org: Organization,
    acting_for: User | None = None,
    as_staff: bool = False,
    name: str = UNSET,
    display_name: str = UNSET,
    description: str = UNSET,
    settings: dict = UNSET,
    max_members: int = UNSET,
    is_active: bool = UNSET,
) -> Organization:
    who = Who(actor, acting_for, as_staff)
    org = lock_org(org)
    who.authorize(org, "org", "write")
    if is_active is not UNSET and is_active != org.is_active:
        # Switching an org off hides it from everyone, so it takes more than "write".
        who.authorize(org, "org", "deactivate")
    if settings is not UNSET and not isinstance(settings, dict):
        raise ValidationFailed(fields={"settings": [_("Settings must be an object.")]})
    changed = apply_changes(org, given(
        name=name, display_name=display_name, description=description, settings=settings,
        max_members=max_members, is_active=is_active,
    ))
    if max_members is not UNSET and isinstance(org.max_members, int):
        count = org.memberships.filter(active_membership_q()).count()
        if org.max_members < count:
            raise ValidationFailed(fields={"max_members": [_("The organization already has %(count)s members.") % {"count": count}]})
    save(org)
    if changed:
        who.audit("org.updated", org=org, resource=org, details=changed)
        bump_version(org.pk)
    return org


@transaction.atomic
def org_transfer_ownership(*, actor: User, org: Organization, new_owner: User, as_staff: bool = False) -> Organization:
    """Hand the org to another active member. The new owner gets the owner
    role; the old owner stays on as admin. Only the owner (in person, not
    through a proxy) or staff in the admin can do this."""
    org = lock_org(org)
    if not (org.owner_id == actor.pk or (as_staff and actor.is_staff and actor.is_active)):
        Who(actor).authorize(org, "org", "read")  # non-members get 404, not a hint
        raise PermissionDenied(_("Only the owner can transfer ownership."))
    if new_owner.pk == org.owner_id:
        raise ValidationFailed(fields={"new_owner": [_("That user already owns this organization.")]})
    target = require_member(new_owner, org, "new_owner")
    old_owner_id = org.owner_id
    owner_role, admin_role = Role.objects.system(OWNER), Role.objects.system(ADMIN)
    Membership.objects.filter(org=org, user_id=old_owner_id).update(role=admin_role)
    target.role, target.expires_at, target.is_active = owner_role, None, True
    target.save(update_fields=["role", "expires_at", "is_active"])
    org.owner = new_owner
    org.save(update_fields=["owner", "updated_at"])
    Who(actor).audit("org.owner.transferred", org=org, resource=org,
                     details={"owner": diff(str(old_owner_id), str(new_owner.pk))})
    bump_version(org.pk)
    return org
