"""Every write to chat goes through here (the page, the API, the socket and the
admin all call these). Each service runs in one transaction, checks the
actor's room powers (chatroom.permissions), writes one audit entry for the
change, and schedules its broadcast for after commit (chatroom.realtime)."""

from __future__ import annotations

import functools
import hashlib
import json
import mimetypes
import re
import secrets
import time
import uuid
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts import notifications
from accounts.models import User
from audit.services import APPEND_ARG_TYPES, audit_record, entry_params, run_bound
from chatroom import cursors, realtime, unread
from chatroom.models import (
    Attachment,
    Invite,
    JoinRequest,
    Mention,
    Message,
    MessageClientId,
    MessageEdit,
    Reaction,
    Room,
    RoomMember,
)
from chatroom.permissions import OWNER_ONLY, POWERS, assignable_roles, can_invite, has_power, outranks
from chatroom.presenters import message_dicts, new_message_dict, reactions_for, user_dict
from config.errors import Conflict, NotFound, PermissionDenied, TooLarge, ValidationFailed, parse_uuid, validate_model
from core.jsonable import jsonable
from orgs.models import Organization

Role = RoomMember.Role

MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.\-]{1,50})")
CLIENT_ID_MAX = 64
EMOJI_MAX = 32
INVITE_DEFAULT_MAX_AGE = 24 * 3600
USER_MESSAGE_TYPES = {Message.Type.TEXT, Message.Type.IMAGE, Message.Type.FILE}


# --------------------------------------------------------------------------- helpers


def _member(room: Room, user: User, *, lock: bool = False) -> RoomMember | None:
    qs = RoomMember.objects.filter(room=room, user=user)
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def _require_member(room: Room, user: User, *, lock: bool = False) -> RoomMember:
    member = _member(room, user, lock=lock)
    if member is None:
        raise PermissionDenied("You are not a member of this room.")
    return member


def _acting_member(room: Room, actor: User, *, staff_override: bool = False, lock: bool = False) -> RoomMember:
    """Whose powers an action in ``room`` runs with: the actor's membership,
    or, with ``staff_override`` (passed only by the Django admin), a stand-in
    with the owner's powers for active site staff, who moderate rooms they
    are not members of. The stand-in is never saved, so the rules that
    compare members (moderation only goes downwards, one owner) still hold:
    staff cannot demote or kick the owner, only transfer ownership."""
    if staff_override:
        if not (actor.is_staff and actor.is_active):
            raise PermissionDenied("Only staff moderate from the admin.")
        return RoomMember(room=room, user=actor, role=Role.OWNER)
    return _require_member(room, actor, lock=lock)


def _require_power(member: RoomMember, power: str, message: str) -> None:
    if not has_power(member, power):
        raise PermissionDenied(message)


def _require_active(room: Room) -> None:
    if room.archived:
        raise Conflict("This room is archived.")


def _lock_room(room: Room) -> Room:
    return Room.objects.select_for_update().get(pk=room.pk)


def _message_for_update(message_id) -> Message:
    try:
        return Message.objects.select_for_update(of=("self",)).select_related("room").get(id=message_id)
    except (Message.DoesNotExist, ValueError, ValidationFailed):
        raise NotFound("No such message.") from None


def _audit_fields(action: str, *, actor, room: Room, resource_type: str = "room", resource_id=None,
                  details=None, staff: bool = False) -> dict:
    details = {"room_id": str(room.id), **(details or {})}
    if staff:
        details["staff"] = True  # done from the admin by site staff
    return {"action": action, "actor": actor, "org": room.org, "resource_type": resource_type,
            "resource_id": str(resource_id or room.id), "details": details}


def _audit(action: str, **fields):
    audit_record(**_audit_fields(action, **fields))


def _validate_password(password: str | None) -> None:
    if not password or len(password) < 4 or len(password) > 128:
        raise ValidationFailed(fields={"password": ["A room password has 4 to 128 characters."]})


# --------------------------------------------------------------------------- rooms


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
    """A room owned by ``owner``; ``actor`` is who made it when that is
    someone else (staff in the admin), for the audit entry."""
    if is_private and not password:
        raise ValidationFailed(fields={"password": ["A private room needs a password."]})
    if not is_private and password:
        raise ValidationFailed(fields={"password": ["Only a private room has a password."]})
    if is_private:
        _validate_password(password)
    if not 2 <= max_members <= 100_000:
        raise ValidationFailed(fields={"max_members": ["Between 2 and 100000."]})
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


ROOM_SETTINGS_FIELDS = {"name", "description", "max_members", "allow_invites", "require_approval", "archived", "settings"}


@transaction.atomic
def room_update(
    *,
    actor: User,
    room: Room,
    name: str | None = None,
    description: str | None = None,
    is_private: bool | None = None,
    password: str | None = None,
    max_members: int | None = None,
    allow_invites: bool | None = None,
    require_approval: bool | None = None,
    archived: bool | None = None,
    settings_: dict | None = None,
    staff_override: bool = False,
) -> Room:
    room = _lock_room(room)
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "manage_settings", "Only admins change room settings.")
    changes = {
        "name": name, "description": description, "max_members": max_members, "allow_invites": allow_invites,
        "require_approval": require_approval, "archived": archived, "settings": settings_,
    }
    changed = []
    old_name = room.name
    for field, value in changes.items():
        if value is not None and getattr(room, field) != value:
            setattr(room, field, value)
            changed.append(field)
    if is_private is not None and is_private != room.is_private:
        if is_private:
            _validate_password(password)
            room.password_hash = make_password(password)
        elif password:
            raise ValidationFailed(fields={"password": ["Only a private room has a password."]})
        else:
            room.password_hash = None
        room.is_private = is_private
        changed.append("is_private")
    elif password:
        if not room.is_private:
            raise ValidationFailed(fields={"password": ["Only a private room has a password."]})
        _validate_password(password)
        room.password_hash = make_password(password)
        changed.append("password")  # the field name only; never the value
    if room.max_members < 2 or room.max_members > 100_000:
        raise ValidationFailed(fields={"max_members": ["Between 2 and 100000."]})
    if not changed:
        return room
    validate_model(room)
    room.save()
    if "name" in changed:
        _system_message(room=room, user=actor, event="renamed", content=f"{actor.username} renamed the room to {room.name}",
                        extra={"old_name": old_name, "new_name": room.name})
    _audit("room.updated", actor=actor, room=room, details={"fields": sorted(changed)}, staff=staff_override)
    return room


@transaction.atomic
def room_delete(*, actor: User, room: Room, staff_override: bool = False) -> None:
    room = _lock_room(room)
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "delete_room", "Only the owner deletes a room.")
    _audit("room.deleted", actor=actor, room=room, details={"name": room.name}, staff=staff_override)
    room_id = room.id
    room.delete()
    realtime.room_event(room_id, {"type": "room.deleted", "room_id": str(room_id)})


@transaction.atomic
def room_transfer_ownership(*, actor: User, room: Room, new_owner: User, staff_override: bool = False) -> Room:
    room = _lock_room(room)
    member = _acting_member(room, actor, staff_override=staff_override, lock=True)
    _require_power(member, "transfer_ownership", "Only the owner transfers ownership.")
    target = _member(room, new_owner, lock=True)
    if target is None:
        raise ValidationFailed(fields={"user_id": ["The new owner must be a member of the room."]})
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
           details={"from_user_id": str(previous), "to_user_id": str(new_owner.id)})
    return room


# --------------------------------------------------------------------------- joining


def _add_member(*, room: Room, user: User, actor: User, via: str) -> RoomMember:
    """Add ``user`` (the room row is locked by the caller, so the member count
    cannot race past max_members)."""
    if RoomMember.objects.filter(room=room).count() >= room.max_members:
        raise Conflict("This room is full.")
    member = RoomMember.objects.create(room=room, user=user, role=Role.MEMBER)
    _system_message(room=room, user=user, event="joined", content=f"{user.username} joined")
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
    if invite_code:
        invite = _invite_for_use(invite_code, room=room, user=user)
        member = _add_member(room=room, user=user, actor=user, via="invite")
        Invite.objects.filter(pk=invite.pk).update(uses=F("uses") + 1)
        return member, None
    if room.is_private:
        if not password or not check_password(password, room.password_hash):
            raise PermissionDenied("Wrong room password.")
    if room.require_approval:
        request, created = JoinRequest.objects.get_or_create(room=room, user=user, status=JoinRequest.Status.PENDING)
        if created:
            _audit("room.join_request.created", actor=user, room=room, resource_type="join_request",
                   resource_id=request.id)
        return None, request
    return _add_member(room=room, user=user, actor=user, via="password" if room.is_private else "public"), None


def _invite_for_use(code: str, *, room: Room | None = None, user: User | None = None) -> Invite:
    invite = Invite.objects.select_for_update().filter(code=code).first()
    if invite is None or (room is not None and invite.room_id != room.id):
        raise NotFound("No such invite.")
    # A personal invite (invite_user) is for its invitee only; to anyone else
    # it does not exist.
    if invite.invitee_id is not None and (user is None or invite.invitee_id != user.id):
        raise NotFound("No such invite.")
    if invite.revoked_at is not None:
        raise PermissionDenied("This invite was revoked.")
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        raise PermissionDenied("This invite has expired.")
    if invite.max_uses and invite.uses >= invite.max_uses:
        raise PermissionDenied("This invite has been used up.")
    return invite


def invite_accept(*, user: User, code: str) -> RoomMember:
    invite = Invite.objects.filter(code=code).select_related("room").first()
    if invite is None:
        raise NotFound("No such invite.")
    member, _ = room_join(user=user, room=invite.room, invite_code=code)
    return member


@transaction.atomic
def room_leave(*, user: User, room: Room) -> None:
    room = _lock_room(room)
    member = _require_member(room, user, lock=True)
    if member.role == Role.OWNER:
        raise Conflict("The owner cannot leave; transfer ownership first.")
    member.delete()
    _system_message(room=room, user=user, event="left", content=f"{user.username} left")
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
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "manage_members", "Only admins add members directly.")
    if role == Role.OWNER:
        raise ValidationFailed(fields={"role": ["Ownership is transferred, not assigned."]})
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [f"One of {', '.join(Role.values)}."]})
    if _member(room, user) is not None:
        raise Conflict("This user is already a member of the room.")
    added = _add_member(room=room, user=user, actor=actor, via="staff" if staff_override else "added")
    if role != Role.MEMBER:
        added = member_update(actor=actor, room=room, user=user, role=role, staff_override=staff_override)
    return added


@transaction.atomic
def member_kick(*, actor: User, room: Room, user: User, staff_override: bool = False) -> None:
    room = _lock_room(room)
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "kick", "Only moderators and above kick members.")
    target = _member(room, user, lock=True)
    if target is None:
        raise NotFound("That user is not a member of this room.")
    if not outranks(member, target):
        raise PermissionDenied("You can only kick members below your role.")
    target.delete()
    _system_message(room=room, user=user, event="kicked", content=f"{user.username} was removed by {actor.username}",
                    extra={"by_user_id": str(actor.id)})
    _audit("room.member.kicked", actor=actor, room=room, resource_type="room_member", resource_id=target.id,
           details={"user_id": str(user.id)}, staff=staff_override)
    _member_gone(room, user)


@transaction.atomic
def member_update(
    *, actor: User, room: Room, user: User, role: str | None = None, is_muted: bool | None = None,
    notifications_enabled: bool | None = None, permissions: dict | None = None, staff_override: bool = False,
) -> RoomMember:
    member = _acting_member(room, actor, staff_override=staff_override)
    target = _member(room, user, lock=True)
    if target is None:
        raise NotFound("That user is not a member of this room.")
    details = {"user_id": str(user.id)}
    fields = []
    if notifications_enabled is not None:
        if target.pk != member.pk:
            raise PermissionDenied("Only the member changes their notification setting.")
        target.notifications_enabled = notifications_enabled
        fields.append("notifications_enabled")
    if role is not None and role != target.role:
        if role not in Role.values:
            raise ValidationFailed(fields={"role": [f"One of {', '.join(Role.values)}."]})
        if role == Role.OWNER:
            raise ValidationFailed(fields={"role": ["Ownership is transferred, not assigned."]})
        if not has_power(member, "assign_roles") or not outranks(member, target) or role not in assignable_roles(member):
            raise PermissionDenied("You cannot give that role to this member.")
        details.update(old_role=target.role, new_role=role)
        target.role = role
        fields.append("role")
    if is_muted is not None and is_muted != target.is_muted:
        _require_power(member, "mute", "Only moderators and above mute members.")
        if not outranks(member, target):
            raise PermissionDenied("You can only mute members below your role.")
        target.is_muted = is_muted
        details["is_muted"] = is_muted
        fields.append("is_muted")
    if permissions is not None and permissions != target.permissions:
        _require_power(member, "manage_members", "Only admins change member permissions.")
        if not outranks(member, target):
            raise PermissionDenied("You can only change members below your role.")
        bad = [k for k, v in permissions.items() if k not in POWERS or k in OWNER_ONLY or not isinstance(v, bool)]
        if bad:
            raise ValidationFailed(fields={"permissions": [f"Unknown or not overridable: {', '.join(sorted(bad))}."]})
        target.permissions = permissions
        details["permissions"] = permissions
        fields.append("permissions")
    if not fields:
        return target
    target.save(update_fields=fields)
    _audit("room.member.updated", actor=actor, room=room, resource_type="room_member", resource_id=target.id,
           details={**details, "fields": fields}, staff=staff_override)
    return target


@transaction.atomic
def join_request_decide(*, actor: User, request: JoinRequest, approve: bool,
                        staff_override: bool = False) -> JoinRequest:
    request = JoinRequest.objects.select_for_update().select_related("room", "user").get(pk=request.pk)
    room = _lock_room(request.room)
    member = _acting_member(room, actor, staff_override=staff_override)
    _require_power(member, "approve", "Only moderators and above decide join requests.")
    if request.status != JoinRequest.Status.PENDING:
        raise Conflict("This request was already decided.")
    request.status = JoinRequest.Status.APPROVED if approve else JoinRequest.Status.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    if approve and _member(room, request.user) is None:
        _add_member(room=room, user=request.user, actor=actor, via="approval")
    _audit(f"room.join_request.{request.status}", actor=actor, room=room, resource_type="join_request",
           resource_id=request.id, details={"user_id": str(request.user_id)}, staff=staff_override)
    return request


def _require_can_invite(room: Room, actor: User) -> RoomMember:
    member = _require_member(room, actor)
    _require_active(room)
    if not can_invite(member, room):
        raise PermissionDenied("You may not invite to this room." if room.allow_invites
                               else "This room does not allow invites from members.")
    return member


def _validate_invite_age(max_age_seconds: int) -> None:
    if max_age_seconds < 0 or max_age_seconds > 90 * 24 * 3600:
        raise ValidationFailed(fields={"max_age_seconds": ["Between 0 (never expires) and 90 days."]})


@transaction.atomic
def invite_create(*, actor: User, room: Room, max_uses: int = 0, max_age_seconds: int = INVITE_DEFAULT_MAX_AGE) -> Invite:
    _require_can_invite(room, actor)
    if max_uses < 0 or max_uses > 10_000:
        raise ValidationFailed(fields={"max_uses": ["Between 0 (unlimited) and 10000."]})
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
        raise NotFound("No such user.")
    if _member(room, user) is not None:
        raise Conflict("This user is already a member of the room.")
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
    notifications.notify(
        user=user,
        type=notifications.Type.ROOM_INVITATION,
        title=f"{actor.username} invited you to #{room.name}",
        message=notifications.excerpt(room.description),
        data={"room_id": str(room.id), "room_name": room.name, "inviter_id": str(actor.id),
              "invite_code": invite.code, "url": reverse("chatroom:invite", args=[invite.code])},
        expires_at=invite.expires_at,
    )
    return invite


@transaction.atomic
def invite_revoke(*, actor: User, invite: Invite, staff_override: bool = False) -> Invite:
    invite = Invite.objects.select_for_update().select_related("room").get(pk=invite.pk)
    member = _acting_member(invite.room, actor, staff_override=staff_override)
    if invite.inviter_id != actor.id:
        _require_power(member, "manage_members", "Only the inviter or an admin revokes an invite.")
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        _audit("room.invite.revoked", actor=actor, room=invite.room, resource_type="invite",
               resource_id=invite.code[:6] + "…", staff=staff_override)
    return invite


# --------------------------------------------------------------------------- messages


def _posting_lock_name(room_id) -> str:
    return f"chat.post.{room_id}"


# Takes the lock named by its one parameter (_posting_lock_name) until commit.
_POSTING_LOCK_SQL = "pg_advisory_xact_lock(hashtextextended(%s, 0))"


def _lock_room_posting(room_id) -> None:
    """Serialize posting within one room until commit. created_at is taken
    after this lock, so created_at order is commit order: a reader paging
    forward by cursor never misses a message that commits late."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_POSTING_LOCK_SQL}", [_posting_lock_name(room_id)])


@functools.cache
def _poster_sql(lock: bool) -> tuple[list, list, str]:
    """The poster's membership, the room and its org's name (and with
    ``lock`` the room's posting lock, taken only for a member) in one statement."""
    qn = connection.ops.quote_name
    member_fields, room_fields = list(RoomMember._meta.concrete_fields), list(Room._meta.concrete_fields)
    columns = ", ".join([f"m.{qn(f.column)}" for f in member_fields] + [f"r.{qn(f.column)}" for f in room_fields])
    locking = f", {_POSTING_LOCK_SQL}" if lock else ""
    sql = f"""
SELECT {columns}, o.name{locking}
FROM room_members m
JOIN chat_rooms r ON r.id = m.room_id
LEFT JOIN {qn(Organization._meta.db_table)} o ON o.id = r.org_id
WHERE m.room_id = %s AND m.user_id = %s
"""
    return member_fields, room_fields, sql


def _from_row(model, fields: list, values) -> object:
    values = [f.from_db_value(v, None, connection) if v is not None and hasattr(f, "from_db_value") else v
              for f, v in zip(fields, values)]
    return model.from_db(connection.alias, [f.attname for f in fields], values)


def _poster(room_id, actor: User, *, lock: bool) -> RoomMember | None:
    """The actor's membership of the room (with ``member.room`` and the
    room's org loaded), None for a non-member; with ``lock``, having taken
    the room's posting lock. Hand-written SQL: posting is chat's hottest
    path, and the ORM's query compiling cost more than the query."""
    member_fields, room_fields, sql = _poster_sql(lock)
    # Bound on the server, so psycopg prepares it after a few runs: planning
    # this join cost the server more than running it.
    row = run_bound(sql, ([_posting_lock_name(room_id)] if lock else []) + [room_id, actor.pk])
    if row is None:
        return None
    n = len(member_fields)
    member = _from_row(RoomMember, member_fields, row[:n])
    room = _from_row(Room, room_fields, row[n:n + len(room_fields)])
    if room.org_id is not None:
        room.org = Organization(id=room.org_id, name=row[n + len(room_fields)])
    member.room, member.user = room, actor
    return member


def _require_can_post(member: RoomMember | None) -> None:
    if member is None:
        raise PermissionDenied("You are not a member of this room.")
    _require_active(member.room)
    _require_power(member, "post", "You may not post in this room.")
    if member.is_muted:
        raise PermissionDenied("You are muted in this room.")


def _posted_details(*, message_type: str, parent: Message | None, attachments: int, mentions: int) -> dict:
    return {"message_type": message_type, "reply_to": str(parent.id) if parent else None,
            "attachments": attachments, "mentions": mentions}


def _validate_content(content: str, *, allow_empty: bool = False) -> str:
    if not isinstance(content, str):
        raise ValidationFailed(fields={"content": ["Text is required."]})
    content = content.replace("\x00", "").strip()
    if not content and not allow_empty:
        raise ValidationFailed(fields={"content": ["A message needs text."]})
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(content) > limit:
        raise ValidationFailed(fields={"content": [f"At most {limit} characters."]})
    return content


@functools.cache
def _message_insert_sql(with_client_id: bool) -> tuple[list, str]:
    """INSERT of a message row that also returns the room's previous message
    (read in the same statement, after the posting lock was taken, so it is
    the last one committed). With a client_id, the same statement first
    claims (user, client_id); when the pair was taken already (a resend) it
    inserts nothing and returns no row. One round trip instead of an ORM
    save and two queries."""
    fields = list(Message._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join("%s" for _ in fields)
    prev = """prev AS (
    SELECT created_at, id FROM messages WHERE room_id = %s AND created_at <= %s
    ORDER BY created_at DESC, id DESC LIMIT 1
)"""
    if not with_client_id:
        return fields, f"""
WITH {prev}
INSERT INTO messages ({columns}) VALUES ({values})
RETURNING (SELECT created_at FROM prev), (SELECT id FROM prev)
"""
    # The claim's foreign key to the message is checked at commit (migration 0004).
    return fields, f"""
WITH claim AS (
    INSERT INTO message_client_ids (user_id, client_id, message_id, message_created_at, created_at)
    VALUES (%s, %s, %s, %s, now()) ON CONFLICT (user_id, client_id) DO NOTHING RETURNING id
), {prev}
INSERT INTO messages ({columns}) SELECT {values} WHERE EXISTS (SELECT 1 FROM claim)
RETURNING (SELECT created_at FROM prev), (SELECT id FROM prev)
"""


def _insert_message(*, room: Room, user: User, content: str, message_type: str, reply_to: Message | None = None,
                    metadata: dict | None = None, client_id: str | None = None, locked: bool = False) -> Message | None:
    """Insert a message under the room's posting lock (``locked``: the caller
    holds it already). With a client_id, the (user, client_id) pair is
    claimed too; None means it was taken (a resend), and nothing was written."""
    if not locked:
        _lock_room_posting(room.id)
    message = Message(
        room=room, user=user, content=content, message_type=message_type, metadata=metadata or {},
        created_at=timezone.now(),
        reply_to_id=reply_to.id if reply_to else None,
        reply_to_created_at=reply_to.created_at if reply_to else None,
    )
    fields, sql = _message_insert_sql(client_id is not None)
    params = [room.id, message.created_at] + [f.get_db_prep_save(f.pre_save(message, True), connection) for f in fields]
    if client_id is not None:
        params = [user.id, client_id, message.id, message.created_at] + params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    prev_at, prev_id = row
    message._state.adding, message._state.db = False, connection.alias
    # The room's previous message rides along with the broadcast, so sockets
    # can tell when they missed one.
    message.prev_cursor = cursors.encode(prev_at, prev_id) if prev_at else None
    unread.room_changed(room.id)
    return message


def _system_message(*, room: Room, user: User, event: str, content: str, extra: dict | None = None) -> Message:
    message = _insert_message(room=room, user=user, content=content, message_type=Message.Type.SYSTEM,
                              metadata={"event": event, **(extra or {})})
    _broadcast_new(message, new_message_dict(message))
    return message


def _broadcast_new(message: Message, body: dict) -> None:
    """Broadcast a new message; ``body`` stays on it (``message.body``) so the
    poster's own answer (the socket's ack) is the same object, not a re-read."""
    message.body = body
    realtime.message_new(body, prev_cursor=message.prev_cursor)


def _resolve_mentions(message: Message) -> list[uuid.UUID]:
    names = {n.rstrip(".").lower() for n in MENTION_RE.findall(message.content)}
    if not names:
        return []
    users = list(
        RoomMember.objects.filter(room_id=message.room_id, user__username__iregex=r"^(" + "|".join(
            re.escape(n) for n in sorted(names)) + r")$").exclude(user_id=message.user_id).values_list("user_id", flat=True)
    )
    Mention.objects.bulk_create(
        [Mention(message=message, message_created_at=message.created_at, room_id=message.room_id, user_id=u) for u in users],
        ignore_conflicts=True,
    )
    return users


def _notify_message(*, message: Message, actor: User, mentioned: list[uuid.UUID], parent: Message | None) -> None:
    """Notify, in the posting transaction, each member the message mentions
    (``mention``) and the author of the message it replies to (``new_message``
    with reason "reply"), once each: a mention wins over a reply. The poster
    never notifies themself (_resolve_mentions leaves them out), and members
    who switched the room's notifications off (notifications_enabled, the
    "mute room notifications" switch) or left the room get nothing. Two
    queries whatever the number of recipients."""
    reasons = {user_id: "mention" for user_id in mentioned}
    if parent is not None and parent.user_id != actor.id:
        reasons.setdefault(parent.user_id, "reply")
    if not reasons:
        return
    listening = set(RoomMember.objects.filter(room_id=message.room_id, user_id__in=list(reasons),
                                              notifications_enabled=True).values_list("user_id", flat=True))
    room = message.room
    text = notifications.excerpt(message.content)
    data = {"room_id": str(room.id), "room_name": room.name, "message_id": str(message.id),
            "message_created_at": message.created_at.isoformat(), "author_id": str(actor.id), "excerpt": text,
            "url": reverse("chatroom:room", args=[room.id])}
    drafts = []
    for user_id, reason in reasons.items():
        if user_id not in listening:
            continue
        if reason == "mention":
            drafts.append(notifications.Draft(user_id=user_id, type=notifications.Type.MENTION, message=text,
                                              title=f"{actor.username} mentioned you in #{room.name}", data=data))
        else:
            drafts.append(notifications.Draft(user_id=user_id, type=notifications.Type.NEW_MESSAGE, message=text,
                                              title=f"{actor.username} replied to you in #{room.name}",
                                              data={**data, "reason": "reply", "reply_to": str(parent.id)}))
    notifications.notify_many(drafts=drafts)


def _find_in_room(room: Room, message_id, *, field: str, include_deleted: bool = False) -> Message:
    qs = Message.objects.filter(room=room, id=parse_uuid(message_id, field))
    if not include_deleted:
        qs = qs.filter(is_deleted=False)
    found = qs.select_related("user").first()
    if found is None:
        raise ValidationFailed(fields={field: ["No such message in this room."]})
    return found


def message_post(
    *,
    actor: User,
    room: Room,
    content: str,
    message_type: str = Message.Type.TEXT,
    reply_to: uuid.UUID | str | None = None,
    client_id: str | None = None,
    attachment_ids: list | tuple = (),
) -> Message:
    """Post a message. Sending a client_id again returns the first message
    (``message.deduplicated`` is True then) and stores nothing new."""
    if client_id is not None and (not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_ID_MAX):
        raise ValidationFailed(fields={"client_id": [f"1 to {CLIENT_ID_MAX} characters."]})
    plain = (message_type == Message.Type.TEXT and not reply_to and not attachment_ids
             and isinstance(content, str) and not MENTION_RE.search(content))
    if plain:
        message = _post_plain(actor=actor, room_id=room.pk, content=content, client_id=client_id)
        if message is not None:
            return message
    return _post_in_transaction(actor=actor, room=room, content=content, message_type=message_type,
                                reply_to=reply_to, client_id=client_id, attachment_ids=attachment_ids)


_POST_PLAIN_SQL = (
    "SELECT outcome, message_created_at, prev_created_at, prev_id FROM chat_message_post("
    "%s::text, %s::uuid, %s::uuid, %s::text, %s::jsonb, %s::text, %s::jsonb, "
    + ", ".join(f"%s::{t}" for t in APPEND_ARG_TYPES) + ")"
)


class _PosterFacts:
    """Recently read memberships of posters, for _post_plain only. A stale
    entry can never let a post through that the current row would refuse:
    chat_message_post rechecks every fact judged from it (role, permission
    overrides, muted, archived) under the posting lock, and on a mismatch
    the entry is dropped and the transactional path reads afresh. What it
    saves is a round trip per message. The org name it carries (for the
    audit entry's snapshot) may be up to TTL_SECONDS old."""

    TTL_SECONDS = 30.0
    MAX_ENTRIES = 20_000

    def __init__(self):
        self.entries: dict = {}

    def get(self, key):
        found = self.entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key, member) -> None:
        if len(self.entries) >= self.MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + self.TTL_SECONDS, member)

    def drop(self, key) -> None:
        self.entries.pop(key, None)


_poster_facts = _PosterFacts()


def _post_plain(*, actor: User, room_id, content: str, client_id: str | None) -> Message | None:
    """A text message without mentions, reply or attachments (most of them):
    the powers are judged here, on the membership as recently read, then one
    database call (chat_message_post, migration 0005) takes the locks,
    rechecks that the facts judged still hold, claims the client id, inserts
    and audits. None when they no longer hold: the transactional path,
    which reads the membership afresh, decides."""
    key = (str(room_id), str(actor.pk))
    member = _poster_facts.get(key)
    if member is None:  # only memberships that passed are remembered
        member = _poster(room_id, actor, lock=False)
        _require_can_post(member)
        _poster_facts.put(key, member)
    room = member.room
    content = _validate_content(content)
    message = Message(room=room, user=actor, content=content, message_type=Message.Type.TEXT, metadata={})
    fields = Message._meta.concrete_fields
    row = json.dumps({f.column: getattr(message, f.attname) for f in fields}, default=jsonable)
    audit_args = entry_params(**_audit_fields(
        "message.posted", actor=actor, room=room, resource_type="message", resource_id=message.id,
        details=_posted_details(message_type=message.message_type, parent=None, attachments=0, mentions=0)))
    outcome, created_at, prev_at, prev_id = run_bound(_POST_PLAIN_SQL, [
        _posting_lock_name(room.id), room.id, actor.pk, member.role, json.dumps(member.permissions), client_id,
        row, *audit_args])
    if outcome == "changed":
        _poster_facts.drop(key)
        return None
    if outcome == "duplicate":
        return _deduplicated(actor, client_id)
    message.created_at = message.updated_at = created_at
    message._state.adding, message._state.db = False, connection.alias
    message.prev_cursor = cursors.encode(prev_at, prev_id) if prev_at else None
    message.deduplicated = False
    unread.room_changed(room.id)
    _broadcast_new(message, new_message_dict(message))
    return message


@transaction.atomic
def _post_in_transaction(*, actor: User, room: Room, content: str, message_type: str, reply_to, client_id,
                         attachment_ids) -> Message:
    """Any message, in a transaction: mentions, a reply and attachments
    take queries and writes of their own."""
    if client_id is not None:
        # A resend is found when its client_id is claimed (_insert_message);
        # one with attachments is answered here, before its (already linked)
        # uploads would fail their checks.
        earlier = _deduplicated(actor, client_id) if attachment_ids else None
        if earlier is not None:
            return earlier
    # The membership and the room's current settings (archived), not the
    # caller's copy, in one statement that also takes the posting lock.
    member = _poster(room.pk, actor, lock=True)
    _require_can_post(member)
    room = member.room
    if message_type not in USER_MESSAGE_TYPES:
        raise ValidationFailed(fields={"message_type": ["One of text, image, file."]})
    attachment_ids = list(dict.fromkeys(str(a) for a in attachment_ids or ()))
    content = _validate_content(content, allow_empty=bool(attachment_ids))
    parent = _find_in_room(room, reply_to, field="reply_to") if reply_to else None

    attachments = []
    if attachment_ids:
        if len(attachment_ids) > 10:
            raise ValidationFailed(fields={"attachment_ids": ["At most 10 attachments."]})
        try:
            attachments = list(Attachment.objects.select_for_update().filter(
                id__in=attachment_ids, uploader=actor, message__isnull=True))
        except ValueError:
            attachments = []
        if len(attachments) != len(attachment_ids):
            raise ValidationFailed(fields={"attachment_ids": ["Unknown, already used, or not your upload."]})
        if message_type == Message.Type.TEXT:
            message_type = Message.Type.IMAGE if all(a.is_image for a in attachments) else Message.Type.FILE

    message = _insert_message(room=room, user=actor, content=content, message_type=message_type,
                              reply_to=parent, client_id=client_id, locked=True)
    if message is None:  # this client_id was stored first by an earlier send
        return _deduplicated(actor, client_id)

    for attachment in attachments:
        attachment.message = message
        attachment.message_created_at = message.created_at
        attachment.room = room
        attachment.save(update_fields=["message", "message_created_at", "room"])
    mentioned = _resolve_mentions(message)
    _notify_message(message=message, actor=actor, mentioned=mentioned, parent=parent)
    message.deduplicated = False
    _audit("message.posted", actor=actor, room=room, resource_type="message", resource_id=message.id,
           details=_posted_details(message_type=message_type, parent=parent, attachments=len(attachments),
                                   mentions=len(mentioned)))
    _broadcast_new(message, new_message_dict(message, attachments=attachments, mentions=mentioned, parent=parent))
    return message


def _deduplicated(actor: User, client_id: str) -> Message | None:
    row = MessageClientId.objects.filter(user=actor, client_id=client_id).first()
    if row is None:
        return None
    message = Message.objects.select_related("user").get(id=row.message_id, created_at=row.message_created_at)
    message.deduplicated = True
    return message


@transaction.atomic
def message_edit(*, actor: User, message_id, content: str) -> Message:
    message = _message_for_update(message_id)
    member = _require_member(message.room, actor)
    if message.user_id != actor.id or message.message_type in (Message.Type.SYSTEM, Message.Type.BOT):
        raise PermissionDenied("You can only edit your own messages.")
    _require_power(member, "edit_own", "You may not edit messages in this room.")
    if message.is_deleted:
        raise NotFound("No such message.")
    content = _validate_content(content, allow_empty=Attachment.objects.filter(message_id=message.id).exists())
    if content == message.content:
        return message
    now = timezone.now()
    MessageEdit.objects.create(message=message, message_created_at=message.created_at, content=message.content,
                               edited_at=message.edited_at or message.created_at, edited_by=actor)
    message.content = content
    message.is_edited = True
    message.edited_at = now
    message.save(update_fields=["content", "is_edited", "edited_at", "updated_at"])
    Mention.objects.filter(message_id=message.id).delete()
    _resolve_mentions(message)
    unread.room_changed(message.room_id)  # mentions may have changed
    _audit("message.edited", actor=actor, room=message.room, resource_type="message", resource_id=message.id)
    realtime.room_event(message.room_id, {"type": "message.updated", "message": message_dicts([message])[0]})
    return message


@transaction.atomic
def message_delete(*, actor: User, message_id, staff_override: bool = False) -> Message:
    """Soft delete: the row stays (for moderation and the audit trail) but
    every face hides its text, files and reactions. ``staff_override`` (the
    admin's action) lets site staff moderate rooms they are not members of."""
    message = _message_for_update(message_id)
    member = _acting_member(message.room, actor, staff_override=staff_override)
    if message.is_deleted:
        return message
    if not staff_override:
        if message.user_id == actor.id and message.message_type != Message.Type.SYSTEM:
            _require_power(member, "delete_own", "You may not delete messages in this room.")
        else:
            _require_power(member, "delete_any", "Only moderators and above delete others' messages.")
    message.is_deleted = True
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.is_pinned = False
    message.save(update_fields=["is_deleted", "deleted_at", "deleted_by", "is_pinned", "updated_at"])
    unread.room_changed(message.room_id)
    _audit("message.deleted", actor=actor, room=message.room, resource_type="message", resource_id=message.id,
           details={"author_id": str(message.user_id), "via": "staff" if staff_override else "room"})
    realtime.room_event(message.room_id, {"type": "message.deleted", "room_id": str(message.room_id),
                                          "message_id": str(message.id)})
    return message


@transaction.atomic
def message_pin(*, actor: User, message_id, pinned: bool = True) -> Message:
    message = _message_for_update(message_id)
    member = _require_member(message.room, actor)
    _require_power(member, "pin", "Only moderators and above pin messages.")
    if message.is_deleted:
        raise NotFound("No such message.")
    if message.is_pinned == pinned:
        return message
    message.is_pinned = pinned
    message.pinned_at = timezone.now() if pinned else None
    message.save(update_fields=["is_pinned", "pinned_at", "updated_at"])
    _audit("message.pinned" if pinned else "message.unpinned", actor=actor, room=message.room,
           resource_type="message", resource_id=message.id)
    realtime.room_event(message.room_id, {"type": "message.updated", "message": message_dicts([message])[0]})
    return message


def _validate_emoji(emoji: str) -> str:
    if not isinstance(emoji, str) or not emoji.strip() or len(emoji) > EMOJI_MAX or any(c.isspace() for c in emoji):
        raise ValidationFailed(fields={"emoji": [f"One emoji (or a name) of at most {EMOJI_MAX} characters."]})
    return emoji


def _reactable(actor: User, message_id) -> Message:
    try:
        message = Message.objects.select_related("room").get(id=message_id)
    except (Message.DoesNotExist, ValueError, ValidationFailed):
        raise NotFound("No such message.") from None
    member = _require_member(message.room, actor)
    _require_power(member, "react", "You may not react in this room.")
    if message.is_deleted:
        raise NotFound("No such message.")
    return message


def _broadcast_reactions(message: Message) -> None:
    reactions = [{"emoji": r["emoji"], "count": r["count"]} for r in reactions_for([message.id]).get(message.id, [])]
    realtime.room_event(message.room_id, {"type": "reaction.updated", "room_id": str(message.room_id),
                                          "message_id": str(message.id), "reactions": reactions})


@transaction.atomic
def reaction_add(*, actor: User, message_id, emoji: str) -> Message:
    emoji = _validate_emoji(emoji)
    message = _reactable(actor, message_id)
    _, created = Reaction.objects.get_or_create(message=message, user=actor, emoji=emoji,
                                                defaults={"message_created_at": message.created_at})
    if created:
        _audit("reaction.added", actor=actor, room=message.room, resource_type="message", resource_id=message.id,
               details={"emoji": emoji})
        _broadcast_reactions(message)
    return message


@transaction.atomic
def reaction_remove(*, actor: User, message_id, emoji: str) -> Message:
    message = _reactable(actor, message_id)
    deleted, _ = Reaction.objects.filter(message_id=message.id, user=actor, emoji=emoji).delete()
    if deleted:
        _audit("reaction.removed", actor=actor, room=message.room, resource_type="message", resource_id=message.id,
               details={"emoji": emoji})
        _broadcast_reactions(message)
    return message


@transaction.atomic
def read_mark(*, actor: User, room: Room, message_id) -> RoomMember:
    """Move the member's read cursor forward to ``message_id`` (never back).
    A deleted message is a valid place to read up to: it still holds its
    place in the room's order (unread counts skip deleted messages), and a
    client whose newest message was just deleted must still be able to say
    it has read that far. A read receipt is personal state, not a change to
    shared data, so it is not audited (it would put every glance at a room
    into the audit chain)."""
    member = _require_member(room, actor, lock=True)
    message = _find_in_room(room, message_id, field="message_id", include_deleted=True)
    if member.last_read_at is not None and (message.created_at, str(message.id)) <= (
            member.last_read_at, str(member.last_read_message_id)):
        return member
    member.last_read_message_id = message.id
    member.last_read_at = message.created_at
    member.save(update_fields=["last_read_message_id", "last_read_at"])
    realtime.room_event(room.id, {"type": "read", "room_id": str(room.id), "user_id": str(actor.id),
                                  "message_id": str(message.id)})
    return member


# --------------------------------------------------------------------------- attachments

# Extensions a client may claim for each detected type (beyond mimetypes' own).
_EQUIVALENT_EXTENSIONS = {"image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"}, "image/tiff": {".tif", ".tiff"}}
_TEXT_EXTENSIONS = {".txt", ".md", ".csv", ".log", ".json"}
SNIFF_BYTES = 8192


def _sniff(head: bytes, filename: str) -> str:
    """The MIME type from the content (``filetype``). A name whose extension
    promises another type is refused; unknown binary content is
    application/octet-stream, plain UTF-8 text is text/plain."""
    import filetype

    ext = PurePath(filename).suffix.lower()
    claimed, _ = mimetypes.guess_type(filename)
    kind = filetype.guess(head)
    if kind is not None:
        detected = kind.mime
        allowed = _EQUIVALENT_EXTENSIONS.get(detected, set()) | {f".{kind.extension}"}
        if ext and ext not in allowed and claimed != detected:
            raise ValidationFailed(fields={"file": [f"The file's content is {detected}, which does not match its name."]})
        return detected
    if ext and claimed and claimed != "application/octet-stream" and filetype.get_type(mime=claimed) is not None:
        # The name claims a type filetype recognises, but the bytes are not it.
        raise ValidationFailed(fields={"file": [f"The file's content is not {claimed}."]})
    try:
        head.decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError as exc:
        is_text = exc.start > len(head) - 4  # cut inside a multi-byte character
    if is_text and (not ext or ext in _TEXT_EXTENSIONS):
        return "text/plain"
    return "application/octet-stream"


def _clean_filename(name: str) -> str:
    name = PurePath(name.replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in '"<>:|?*').strip(". ")
    return (name or "file")[:200]


@transaction.atomic
def attachment_upload(*, actor: User, file) -> Attachment:
    """Store an upload (Django storage) for linking to a message later."""
    limit = settings.CHAT_UPLOAD_MAX_BYTES
    if file.size > limit:
        raise TooLarge(f"Uploads are limited to {limit} bytes.")
    if file.size == 0:
        raise ValidationFailed(fields={"file": ["The file is empty."]})
    filename = _clean_filename(file.name or "")
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    mime = _sniff(head, filename)
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    width = height = None
    if mime.startswith("image/"):
        from PIL import Image, UnidentifiedImageError

        file.seek(0)
        try:
            with Image.open(file) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise ValidationFailed(fields={"file": ["The image cannot be read."]}) from None
    file.seek(0)
    attachment = Attachment(id=uuid.uuid4(), uploader=actor, filename=filename, mime_type=mime, size=file.size,
                            checksum=digest.hexdigest(), width=width, height=height)
    attachment.file.save(attachment.id.hex, file, save=False)
    attachment.save(force_insert=True)
    audit_record(action="attachment.uploaded", actor=actor, resource_type="attachment", resource_id=str(attachment.id),
                 details={"mime_type": mime, "size": attachment.size, "sha256": attachment.checksum})
    return attachment


@transaction.atomic
def attachment_delete(*, actor: User, attachment_id, staff_override: bool = False) -> None:
    """Remove a file: its uploader's own upload not yet linked to a message,
    or, for staff in the admin (``staff_override``), any file. The stored
    file goes once the row's removal commits; a message that showed it is
    broadcast again without it."""
    if staff_override:
        if not (actor.is_staff and actor.is_active):
            raise PermissionDenied("Only staff moderate from the admin.")
        attachment = Attachment.objects.select_for_update().filter(id=parse_uuid(attachment_id, "attachment_id")).first()
    else:
        attachment = Attachment.objects.select_for_update().filter(
            id=parse_uuid(attachment_id, "attachment_id"), uploader=actor, message__isnull=True).first()
    if attachment is None:
        raise NotFound("No such attachment.")
    details = {"filename": attachment.filename, "sha256": attachment.checksum, "size": attachment.size,
               "message_id": str(attachment.message_id) if attachment.message_id else None}
    if staff_override:
        details["staff"] = True
    audit_record(action="attachment.deleted", actor=actor, org=attachment.room.org if attachment.room else None,
                 resource_type="attachment", resource_id=str(attachment.id), details=details)
    storage, name = attachment.file.storage, attachment.file.name
    message_id, room_id = attachment.message_id, attachment.room_id
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(name))
    if message_id is not None:
        message = Message.objects.select_related("user").filter(id=message_id, room_id=room_id).first()
        if message is not None and not message.is_deleted:
            realtime.room_event(room_id, {"type": "message.updated", "message": message_dicts([message])[0]})
