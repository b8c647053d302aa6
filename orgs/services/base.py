"""What every orgs service shares: who is acting (their permission checks
and audit entries), the org row lock, the checks of referenced rows, and the
validated save."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from audit.services import audit_record
from core.errors import Conflict, PermissionDenied, ValidationFailed, validate_model
from orgs.models import Membership, Organization
from orgs.permissions import active_membership_q, authorize, covers, effective_grant


@dataclass(frozen=True)
class Who:
    """The actor of a change and how they act: for ``acting_for`` through a
    proxy, or (``as_staff``, the Django admin only) as staff."""

    actor: User | None
    acting_for: User | None = None
    as_staff: bool = False

    def authorize(self, org: Organization, resource: str, action: str) -> None:
        authorize(self.actor, org, resource, action, acting_for=self.acting_for, as_staff=self.as_staff)

    def _permissions(self, org: Organization) -> list[dict]:
        if self.as_staff and self.actor.is_staff and self.actor.is_active:
            return [{"*": ["*"]}]
        return effective_grant(self.actor, org, acting_for=self.acting_for).permissions or []

    def require_covered(self, org: Organization, granted: dict, *, what: str) -> None:
        """Nobody hands out (or manages someone holding) more than they hold."""
        if not all(covers(p, granted) for p in self._permissions(org)):
            raise PermissionDenied(_("You cannot manage %(what)s: it holds permissions you do not have.") % {"what": what})

    def audit(self, action: str, *, org: Organization, resource, details: dict) -> None:
        """One entry naming the actor and, through a proxy, the principal."""
        audit_record(
            action=action,
            actor=self.actor,
            acting_for=self.acting_for,
            org=org,
            resource_type=resource._meta.model_name,
            resource_id=str(resource.pk),
            details=details,
        )


def lock_org(org: Organization) -> Organization:
    """Serialize changes to one org's members and tree (max_members, cycles, owners)."""
    return Organization.objects.select_for_update().get(pk=org.pk)


def same_org(obj, org: Organization, field: str) -> None:
    if obj is not None and obj.org_id != org.pk:
        raise ValidationFailed(fields={field: [_("Not part of this organization.")]})


def require_member(user: User, org: Organization, field: str) -> Membership:
    membership = Membership.objects.filter(user=user, org=org).filter(active_membership_q()).first()
    if membership is None or not user.is_active:
        raise ValidationFailed(fields={field: [_("Must be an active member of this organization.")]})
    return membership


def save(obj) -> None:
    """Validate, then save; a unique race that slips past validation is a 409."""
    validate_model(obj)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(_("That conflicts with an existing record.")) from exc
