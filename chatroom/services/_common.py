"""What the chat services share: whose powers an action runs with (the
actor's membership, or staff's stand-in from the admin), the power and
archived checks, the room row lock, a message looked up in one room, and the
shape of chat's audit entries. Internal to chatroom.services."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from audit.services import audit_record
from chatroom import selectors
from chatroom.models import Message, Room, RoomMember
from chatroom.permissions import has_power
from core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    parse_uuid,
)

Role = RoomMember.Role


def _member(room: Room, user: User, *, lock: bool = False) -> RoomMember | None:
    qs = RoomMember.objects.filter(room=room, user=user)
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def _require_member(room: Room, user: User, *, lock: bool = False) -> RoomMember:
    member = _member(room, user, lock=lock)
    if member is None:
        raise PermissionDenied(_("You are not a member of this room."))
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
            raise PermissionDenied(_("Only staff moderate from the admin."))
        return RoomMember(room=room, user=actor, role=Role.OWNER)
    return _require_member(room, actor, lock=lock)


def _require_power(member: RoomMember, power: str, message: str) -> None:
    if not has_power(member, power):
        raise PermissionDenied(message)


def _require_channel(room: Room, message) -> None:
    """DMs and group DMs have no name, password, invites, roles or kicks:
    the services of those refuse them here, on every face alike."""
    if room.kind != Room.Kind.CHANNEL:
        raise PermissionDenied(message)


def _require_active(room: Room) -> None:
    if room.archived:
        raise Conflict(_("This room is archived."))


def _lock_room(room: Room) -> Room:
    # NO KEY UPDATE: it serializes the services that change the room or its
    # members, but does not block the foreign-key checks (FOR KEY SHARE) of a
    # post holding the posting lock, which a member change then waits for.
    return Room.objects.select_for_update(no_key=True).get(pk=room.pk)


def _message_in_reach(actor: User, message_id, *, lock: bool = False) -> tuple[Message, RoomMember]:
    """The message an action of the actor's is about, and the actor's
    membership of its room (``lock``: the message row locked until commit).
    A message that does not exist, is in a room the actor is not a member
    of, or was deleted (for those who do not see deleted messages) is the
    same NotFound: selectors.message_get's answer, so no face (API, socket,
    page) confirms to a non-member that a message exists."""
    try:
        message, member = selectors.message_get(user=actor, message_id=message_id)
    except ValidationFailed:
        raise NotFound(_("No such message.")) from None
    if lock:
        message = (Message.objects.select_for_update(of=("self",)).select_related("room")
                   .get(id=message.id, created_at=message.created_at))
    return message, member


def _audit_fields(action: str, *, actor, room: Room, resource_type: str = "room", resource_id=None,
                  details=None, staff: bool = False) -> dict:
    details = {"room_id": str(room.id), **(details or {})}
    if staff:
        details["staff"] = True  # done from the admin by site staff
    return {"action": action, "actor": actor, "org": room.org, "resource_type": resource_type,
            "resource_id": str(resource_id or room.id), "details": details}


def _audit(action: str, **fields):
    audit_record(**_audit_fields(action, **fields))


def _find_in_room(room: Room, message_id, *, field: str, include_deleted: bool = False) -> Message:
    qs = Message.objects.filter(room=room, id=parse_uuid(message_id, field))
    if not include_deleted:
        qs = qs.filter(is_deleted=False)
    found = qs.select_related("user").first()
    if found is None:
        raise ValidationFailed(fields={field: [gettext("No such message in this room.")]})
    return found
