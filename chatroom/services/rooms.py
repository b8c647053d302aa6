"""Rooms: create, change settings, delete, hand over ownership."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom.models import Room, RoomMember
from chatroom.services._common import (
    Role,
    _acting_member,
    _audit,
    _lock_room,
    _member,
    _require_channel,
    _require_power,
)
from chatroom.services.message_send import system_message_post
from core.changes import UNSET, apply_changes, diff
from core.errors import ValidationFailed, validate_model
from orgs.models import Membership, Organization
from orgs.permissions import active_membership_q
from realtime import broadcast as realtime


def _org_of(owner: User, org: Organization | None) -> Organization | None:
    """The org a new room goes in (read afresh; ``org`` may be a bare
    ``Organization(pk=...)``), which must be one its owner is a member of
    now: a membership that lapsed (expired, or switched off) does not count
    (orgs.permissions.active_membership_q)."""
    if org is None:
        return None
    current = Membership.objects.filter(active_membership_q(), user=owner)
    found = Organization.objects.filter(pk=org.pk, memberships__in=current).first()
    if found is None:
        raise ValidationFailed(fields={"org_id": [gettext("No such organization of yours.")]})
    return found


def _validate_password(password: str | None) -> None:
    if not password or len(password) < 4 or len(password) > 128:
        raise ValidationFailed(fields={"password": [gettext("A room password has 4 to 128 characters.")]})


@transaction.atomic
def room_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    is_private: bool = False,
    password: str | None = None,
    org: Organization | None = None,
    max_members: int = 1000,
    allow_invites: bool = True,
    require_approval: bool = False,
    actor: User | None = None,
) -> Room:
    """A room owned by ``owner``, in ``org`` if given (one of the owner's);
    ``actor`` is who made it when that is someone else (staff in the admin),
    for the audit entry."""
    org = _org_of(owner, org)
    if is_private and not password:
        raise ValidationFailed(fields={"password": [gettext("A private room needs a password.")]})
    if not is_private and password:
        raise ValidationFailed(fields={"password": [gettext("Only a private room has a password.")]})
    if is_private:
        _validate_password(password)
    if not 2 <= max_members <= 100_000:
        raise ValidationFailed(fields={"max_members": [gettext("Between 2 and 100000.")]})
    room = Room(
        owner=owner,
        name=name,
        description=description,
        is_private=is_private,
        password_hash=make_password(password) if is_private else None,
        org=org,
        max_members=max_members,
        allow_invites=allow_invites,
        require_approval=require_approval,
    )
    validate_model(room)
    room.save()
    RoomMember.objects.create(room=room, user=owner, role=Role.OWNER)
    _audit("room.created", actor=actor or owner, room=room, staff=actor is not None and actor != owner,
           details={"name": room.name, "is_private": is_private, "require_approval": require_approval})
    return room


# What the audit entry shows for a new password: that it changed, never the value.
MASKED = "***"


@transaction.atomic
def room_update(
    *,
    actor: User,
    room: Room,
    name: str = UNSET,
    description: str = UNSET,
    is_private: bool = UNSET,
    password: str | None = None,
    max_members: int = UNSET,
    allow_invites: bool = UNSET,
    require_approval: bool = UNSET,
    archived: bool = UNSET,
    settings_: dict = UNSET,
    staff_override: bool = False,
) -> Room:
    """Change a room's settings (core.changes: a field left UNSET stays as
    it is). ``password`` is not a field: a new password when given (needed
    when making a room private), and None or empty for none."""
    room = _lock_room(room)
    if room.kind != Room.Kind.CHANNEL:
        if name is not UNSET or password or is_private is not UNSET:
            field = "name" if name is not UNSET else "password"
            raise ValidationFailed(fields={field: [gettext("A direct message has no name or password.")]})
        _require_channel(room, _("A direct message has no settings."))
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "manage_settings", _("Only admins change room settings."))
    changes = apply_changes(room, {
        "name": name, "description": description, "max_members": max_members, "allow_invites": allow_invites,
        "require_approval": require_approval, "archived": archived, "settings": settings_,
    })
    if is_private is not UNSET and is_private != room.is_private:
        if is_private:
            _validate_password(password)
            room.password_hash = make_password(password)
        elif password:
            raise ValidationFailed(fields={"password": [gettext("Only a private room has a password.")]})
        else:
            room.password_hash = None
        changes["is_private"] = diff(room.is_private, is_private)
        room.is_private = is_private
    elif password:
        if not room.is_private:
            raise ValidationFailed(fields={"password": [gettext("Only a private room has a password.")]})
        _validate_password(password)
        room.password_hash = make_password(password)
        changes["password"] = diff(MASKED, MASKED)
    if not isinstance(room.max_members, int) or not 2 <= room.max_members <= 100_000:
        raise ValidationFailed(fields={"max_members": [gettext("Between 2 and 100000.")]})
    if not changes:
        return room
    validate_model(room)
    room.save()
    if "name" in changes:
        system_message_post(room=room, user=actor, event="renamed",
                            extra={"old_name": changes["name"]["old"], "new_name": room.name})
    _audit("room.updated", actor=actor, room=room, details=changes, staff=staff_override)
    return room


@transaction.atomic
def room_delete(*, actor: User, room: Room, staff_override: bool = False) -> None:
    room = _lock_room(room)
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "delete_room", _("Only the owner deletes a room."))
    _audit("room.deleted", actor=actor, room=room, details={"name": room.name}, staff=staff_override)
    room_id = room.id
    room.delete()
    realtime.room_event(room_id, {"type": "room.deleted", "room_id": str(room_id)})


@transaction.atomic
def room_transfer_ownership(*, actor: User, room: Room, new_owner: User, staff_override: bool = False) -> Room:
    room = _lock_room(room)
    _require_channel(room, _("A direct message has no owner."))
    member = _acting_member(room, actor, staff_override=staff_override, lock=True)
    _require_power(member, "transfer_ownership", _("Only the owner transfers ownership."))
    target = _member(room, new_owner, lock=True)
    if target is None:
        raise ValidationFailed(fields={"user_id": [gettext("The new owner must be a member of the room.")]})
    current = RoomMember.objects.select_for_update().filter(room=room, role=Role.OWNER).first()
    if current is not None and target.pk == current.pk:
        return room
    previous = room.owner_id
    if current is not None:
        current.role = Role.ADMIN
        current.save(update_fields=["role"])  # first: one owner per room at any moment
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    room.owner = new_owner
    room.save(update_fields=["owner", "updated_at"])
    _audit("room.ownership.transferred", actor=actor, room=room, staff=staff_override,
           details={"owner": diff(str(previous), str(new_owner.id))})
    return room
