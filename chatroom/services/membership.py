"""Who is in a room: joining (publicly, by password, by invite, by approved
request), leaving, being added, kicked or changed (role, mute, overrides)."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom.models import Invite, JoinRequest, Room, RoomMember
from chatroom.permissions import (
    OWNER_ONLY,
    POWERS,
    assignable_roles,
    has_power,
    outranks,
)
from chatroom.presenters import user_dict
from chatroom.services._common import (
    Role,
    _acting_member,
    _audit,
    _lock_room,
    _member,
    _require_active,
    _require_channel,
    _require_member,
    _require_power,
)
from chatroom.services.dms import group_dm_rekey
from chatroom.services.invites import _invite_for_use
from chatroom.services.message_send import system_message_post
from core.changes import UNSET, apply_changes
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from realtime import broadcast as realtime

Level = RoomMember.NotifyLevel


def _add_member(*, room: Room, user: User, actor: User, via: str) -> RoomMember:
    """Add ``user`` (the room row is locked by the caller, so the member count
    cannot race past max_members)."""
    if RoomMember.objects.filter(room=room).count() >= room.max_members:
        raise Conflict(_("This room is full."))
    member = RoomMember.objects.create(room=room, user=user, role=Role.MEMBER)
    system_message_post(room=room, user=user, event="joined")
    _audit("room.member.joined", actor=actor, room=room, resource_type="room_member", resource_id=member.id,
           details={"user_id": str(user.id), "via": via})
    frame = {"type": "member.joined", "room_id": str(room.id), "user": user_dict(user)}
    realtime.room_event(room.id, frame, subject=str(user.id))
    # The joiner's own sockets subscribe to the room without reconnecting.
    realtime.user_event(user.id, frame, room=str(room.id), subject=str(user.id))
    return member


@transaction.atomic
def room_join(
    *, user: User, room: Room, password: str | None = None, invite_code: str | None = None
) -> tuple[RoomMember | None, JoinRequest | None]:
    """Join a room. Returns (member, None) when joined, or (None, request) when
    the room requires approval. An invite lets its holder past the password
    and the approval step; a private room otherwise needs its password."""
    room = _lock_room(room)
    _require_active(room)
    existing = _member(room, user)
    if existing is not None:
        return existing, None
    _require_channel(room, _("A direct message has no joining; it is opened with its people."))
    if invite_code:
        invite = _invite_for_use(invite_code, room=room, user=user)
        member = _add_member(room=room, user=user, actor=user, via="invite")
        Invite.objects.filter(pk=invite.pk).update(uses=F("uses") + 1)
        return member, None
    if room.is_private:
        if not password or not check_password(password, room.password_hash):
            raise PermissionDenied(_("Wrong room password."))
    if room.require_approval:
        request, created = JoinRequest.objects.get_or_create(room=room, user=user, status=JoinRequest.Status.PENDING)
        if created:
            _audit("room.join_request.created", actor=user, room=room, resource_type="join_request",
                   resource_id=request.id)
        return None, request
    return _add_member(room=room, user=user, actor=user, via="password" if room.is_private else "public"), None


def invite_accept(*, user: User, code: str) -> RoomMember:
    invite = Invite.objects.filter(code=code).select_related("room").first()
    if invite is None:
        raise NotFound(_("No such invite."))
    member, _request = room_join(user=user, room=invite.room, invite_code=code)
    return member


@transaction.atomic
def room_leave(*, user: User, room: Room) -> None:
    room = _lock_room(room)
    member = _require_member(room, user, lock=True)
    if room.kind == Room.Kind.DM:
        raise Conflict(_("A direct message between two people cannot be left; a group DM can."))
    if member.role == Role.OWNER:
        raise Conflict(_("The owner cannot leave; transfer ownership first."))
    member.delete()
    if room.kind == Room.Kind.GROUP_DM:
        group_dm_rekey(room)
    system_message_post(room=room, user=user, event="left")
    _audit("room.member.left", actor=user, room=room, resource_type="room_member", resource_id=member.id,
           details={"user_id": str(user.id)})
    _member_gone(room, user)


def _member_gone(room: Room, user: User) -> None:
    frame = {"type": "member.left", "room_id": str(room.id), "user": user_dict(user)}
    realtime.room_event(room.id, frame, subject=str(user.id))
    # The user's own sockets drop the room at once (api.md).
    realtime.user_event(user.id, frame, room=str(room.id), subject=str(user.id))


@transaction.atomic
def member_add(*, actor: User, room: Room, user: User, role: str = Role.MEMBER,
               staff_override: bool = False) -> RoomMember:
    """Add ``user`` to the room directly (no password, invite or approval):
    for admins of the room, and staff in the admin. A role other than member
    is then given as member_update gives it, with its rules and audit entry."""
    room = _lock_room(room)
    _require_channel(room, _("A direct message has no members added to it; open a new one with its people."))
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "manage_members", _("Only admins add members directly."))
    if role == Role.OWNER:
        raise ValidationFailed(fields={"role": [gettext("Ownership is transferred, not assigned.")]})
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [gettext("One of %(choices)s.") % {"choices": ", ".join(Role.values)}]})
    if _member(room, user) is not None:
        raise Conflict(_("This user is already a member of the room."))
    added = _add_member(room=room, user=user, actor=actor, via="staff" if staff_override else "added")
    if role != Role.MEMBER:
        added = member_update(actor=actor, room=room, user=user, role=role, staff_override=staff_override)
    return added


@transaction.atomic
def member_kick(*, actor: User, room: Room, user: User, staff_override: bool = False) -> None:
    room = _lock_room(room)
    _require_channel(room, _("A direct message has no kicks."))
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "kick", _("Only moderators and above kick members."))
    target = _member(room, user, lock=True)
    if target is None:
        raise NotFound(_("That user is not a member of this room."))
    if not outranks(member, target):
        raise PermissionDenied(_("You can only kick members below your role."))
    target.delete()
    system_message_post(room=room, user=user, event="kicked",
                        extra={"by_user_id": str(actor.id), "by": actor.username})
    _audit("room.member.kicked", actor=actor, room=room, resource_type="room_member", resource_id=target.id,
           details={"user_id": str(user.id)}, staff=staff_override)
    _member_gone(room, user)


def _require_bool(field: str, value) -> None:
    if not isinstance(value, bool):
        raise ValidationFailed(fields={field: [gettext("true or false.")]})


@transaction.atomic
def member_update(
    *, actor: User, room: Room, user: User, role: str = UNSET, is_muted: bool = UNSET,
    notifications_enabled: bool = UNSET, permissions: dict = UNSET, staff_override: bool = False,
    notify_level: str = UNSET,
) -> RoomMember:
    """Change a member (core.changes: a field left UNSET stays as it is).
    Each change has its own rule: the member's own notification switch,
    roles below the actor's, muting and overrides only downwards. In a DM
    only the member's own notification switch changes (no roles)."""
    if room.kind != Room.Kind.CHANNEL and (role, is_muted, permissions) != (UNSET, UNSET, UNSET):
        _require_channel(room, _("A direct message has no roles, mutes or permission overrides."))
    member = _acting_member(room, actor, staff_override=staff_override)
    target = _member(room, user, lock=True)
    if target is None:
        raise NotFound(_("That user is not a member of this room."))
    if notifications_enabled is not UNSET:
        _require_bool("notifications_enabled", notifications_enabled)
        if target.pk != member.pk:
            raise PermissionDenied(_("Only the member changes their notification setting."))
        if notify_level is UNSET:  # the old switch: off mutes, on notifies of everything
            notify_level = Level.ALL if notifications_enabled else Level.NONE
    if notify_level is not UNSET:
        if notify_level not in Level.values:
            raise ValidationFailed(fields={"notify_level": [gettext("One of %(choices)s.")
                    % {"choices": ", ".join(Level.values)}]})
        if target.pk != member.pk:
            raise PermissionDenied(_("Only the member changes their notification setting."))
        notifications_enabled = notify_level != Level.NONE
    if role is not UNSET and role != target.role:
        if role not in Role.values:
            raise ValidationFailed(fields={"role": [gettext("One of %(choices)s.") % {"choices": ", ".join(Role.values)}]})
        if role == Role.OWNER:
            raise ValidationFailed(fields={"role": [gettext("Ownership is transferred, not assigned.")]})
        if not has_power(member, "assign_roles") or not outranks(member, target) or role not in assignable_roles(member):
            raise PermissionDenied(_("You cannot give that role to this member."))
    if is_muted is not UNSET and is_muted != target.is_muted:
        _require_bool("is_muted", is_muted)
        _require_power(member, "mute", _("Only moderators and above mute members."))
        if not outranks(member, target):
            raise PermissionDenied(_("You can only mute members below your role."))
    if permissions is not UNSET and permissions != target.permissions:
        if not isinstance(permissions, dict):
            raise ValidationFailed(fields={"permissions": [gettext("An object of power -> true or false.")]})
        _require_power(member, "manage_members", _("Only admins change member permissions."))
        if not outranks(member, target):
            raise PermissionDenied(_("You can only change members below your role."))
        bad = [k for k, v in permissions.items() if k not in POWERS or k in OWNER_ONLY or not isinstance(v, bool)]
        if bad:
            raise ValidationFailed(fields={"permissions": [gettext("Unknown or not overridable: %(powers)s.")
                    % {"powers": ", ".join(sorted(bad))}]})
    changes = apply_changes(target, {"notifications_enabled": notifications_enabled, "notify_level": notify_level,
                                     "role": role,
                                     "is_muted": is_muted, "permissions": permissions})
    if not changes:
        return target
    target.save(update_fields=list(changes))
    _audit("room.member.updated", actor=actor, room=room, resource_type="room_member", resource_id=target.id,
           details={"user_id": str(user.id), **changes}, staff=staff_override)
    return target


@transaction.atomic
def join_request_decide(*, actor: User, request: JoinRequest, approve: bool,
                        staff_override: bool = False) -> JoinRequest:
    request = JoinRequest.objects.select_for_update().select_related("room", "user").get(pk=request.pk)
    room = _lock_room(request.room)
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "approve", _("Only moderators and above decide join requests."))
    if request.status != JoinRequest.Status.PENDING:
        raise Conflict(_("This request was already decided."))
    request.status = JoinRequest.Status.APPROVED if approve else JoinRequest.Status.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    if approve and _member(room, request.user) is None:
        _add_member(room=room, user=request.user, actor=actor, via="approval")
    _audit(f"room.join_request.{request.status}", actor=actor, room=room, resource_type="join_request",
           resource_id=request.id, details={"user_id": str(request.user_id)}, staff=staff_override)
    return request
