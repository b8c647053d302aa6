"""Invites: links anyone may use (up to their limits), personal invites
announced to their invitee, and revoking them. Using one is joining
(membership.room_join)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import notifications
from accounts.models import User
from chatroom.models import Invite, Room, RoomMember
from chatroom.permissions import can_invite
from chatroom.services._common import (
    _acting_member,
    _audit,
    _member,
    _require_active,
    _require_channel,
    _require_member,
    _require_power,
)
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

INVITE_DEFAULT_MAX_AGE = 24 * 3600


def _invite_for_use(code: str, *, room: Room | None = None, user: User | None = None) -> Invite:
    invite = Invite.objects.select_for_update().filter(code=code).first()
    if invite is None or (room is not None and invite.room_id != room.id):
        raise NotFound(_("No such invite."))
    # A personal invite (invite_user) is for its invitee only; to anyone else
    # it does not exist.
    if invite.invitee_id is not None and (user is None or invite.invitee_id != user.id):
        raise NotFound(_("No such invite."))
    if invite.revoked_at is not None:
        raise PermissionDenied(_("This invite was revoked."))
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        raise PermissionDenied(_("This invite has expired."))
    if invite.max_uses and invite.uses >= invite.max_uses:
        raise PermissionDenied(_("This invite has been used up."))
    return invite


def _require_can_invite(room: Room, actor: User) -> RoomMember:
    member = _require_member(room, actor)
    _require_channel(room, _("A direct message has no invites."))
    _require_active(room)
    if not can_invite(member, room):
        raise PermissionDenied(_("You may not invite to this room.") if room.allow_invites
                               else _("This room does not allow invites from members."))
    return member


def _validate_invite_age(max_age_seconds: int) -> None:
    if max_age_seconds < 0 or max_age_seconds > 90 * 24 * 3600:
        raise ValidationFailed(fields={"max_age_seconds": [gettext("Between 0 (never expires) and 90 days.")]})


@transaction.atomic
def invite_create(*, actor: User, room: Room, max_uses: int = 0, max_age_seconds: int = INVITE_DEFAULT_MAX_AGE) -> Invite:
    _require_can_invite(room, actor)
    if max_uses < 0 or max_uses > 10_000:
        raise ValidationFailed(fields={"max_uses": [gettext("Between 0 (unlimited) and 10000.")]})
    _validate_invite_age(max_age_seconds)
    invite = Invite.objects.create(
        code=secrets.token_urlsafe(12),
        room=room,
        inviter=actor,
        max_uses=max_uses,
        expires_at=timezone.now() + timedelta(seconds=max_age_seconds) if max_age_seconds else None,
    )
    _audit("room.invite.created", actor=actor, room=room, resource_type="invite", resource_id=invite.code[:6] + "…",
           details={"max_uses": max_uses, "max_age_seconds": max_age_seconds})
    return invite


@transaction.atomic
def invite_user(*, actor: User, room: Room, user: User, max_age_seconds: int = INVITE_DEFAULT_MAX_AGE) -> Invite:
    """A personal invite: single-use, valid for ``user`` only (see
    _invite_for_use), and announced to them by a room_invitation notification
    carrying its code, which expires with the invite. The same permission as
    invite_create."""
    _require_can_invite(room, actor)
    _validate_invite_age(max_age_seconds)
    user = User.objects.filter(pk=user.pk, status=User.Status.ACTIVE).first()
    if user is None:
        raise NotFound(_("No such user."))
    if _member(room, user) is not None:
        raise Conflict(_("This user is already a member of the room."))
    invite = Invite.objects.create(
        code=secrets.token_urlsafe(12),
        room=room,
        inviter=actor,
        invitee=user,
        max_uses=1,
        expires_at=timezone.now() + timedelta(seconds=max_age_seconds) if max_age_seconds else None,
    )
    _audit("room.invite.created", actor=actor, room=room, resource_type="invite", resource_id=invite.code[:6] + "…",
           details={"max_uses": 1, "max_age_seconds": max_age_seconds, "invitee_id": str(user.id)})
    title, spec = notifications.coded("invite", actor=actor.username, room=room.name)
    notifications.notify(
        user=user,
        type=notifications.Type.ROOM_INVITATION,
        title=title,
        message=notifications.excerpt(room.description),
        data={"i18n": spec, "room_id": str(room.id), "room_name": room.name, "inviter_id": str(actor.id),
              "invite_code": invite.code, "url": reverse("chatroom:invite", args=[invite.code])},
        expires_at=invite.expires_at,
    )
    return invite


@transaction.atomic
def invite_revoke(*, actor: User, invite: Invite, staff_override: bool = False) -> Invite:
    invite = Invite.objects.select_for_update().select_related("room").get(pk=invite.pk)
    member = _acting_member(invite.room, actor, staff_override=staff_override)
    if invite.inviter_id != actor.id:
        _require_power(member, "manage_members", _("Only the inviter or an admin revokes an invite."))
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        _audit("room.invite.revoked", actor=actor, room=invite.room, resource_type="invite",
               resource_id=invite.code[:6] + "…", staff=staff_override)
    return invite
