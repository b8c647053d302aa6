"""Direct messages: opening a DM or a group DM, leaving a group DM, blocking
and unblocking people, and staff's audited legal-hold export of a DM.

One DM per pair and one group DM per exact set of people: each DM room holds
``dm_key``, the kind and a digest of its people's sorted ids, under a unique
index. dm_open inserts the room with its key in the same transaction as its
members and audit entry; when two people open the same DM at once, the
second insert waits for the first to commit, fails on the index, and returns
the room the first one made."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from audit.services import audit_record
from chatroom import selectors
from chatroom.models import Message, MessageEdit, Room, RoomMember, UserBlock
from chatroom.presenters import user_dict
from chatroom.services._common import Role, _audit
from core.errors import NotFound, PermissionDenied, ValidationFailed, parse_uuid
from realtime import broadcast as realtime

Kind = Room.Kind
POLICY_SHARED, POLICY_ANYONE = "shared", "anyone"


def dm_key(kind: str, user_ids) -> str:
    """The key of a DM of ``kind`` between exactly ``user_ids``."""
    ids = ",".join(sorted(str(u) for u in set(user_ids)))
    return f"{kind}:{hashlib.sha256(ids.encode()).hexdigest()}"


def _people(actor: User, user_ids) -> list[User]:
    """The other people of a DM the actor opens: active users, the actor
    left out, 1 to GROUP_DM_MAX_MEMBERS - 1 of them."""
    limit = settings.GROUP_DM_MAX_MEMBERS
    if not isinstance(user_ids, (list, tuple)) or not user_ids:
        raise ValidationFailed(fields={"user_ids": [gettext("A list of the people to message.")]})
    if len(user_ids) > 10 * limit:
        raise ValidationFailed(fields={"user_ids": [gettext("At most %(limit)s people in a conversation, you included.")
                % {"limit": limit}]})
    ids = {parse_uuid(u, "user_ids") for u in user_ids} - {actor.id}
    if not ids:
        raise ValidationFailed(fields={"user_ids": [gettext("Name at least one other person.")]})
    if len(ids) + 1 > limit:
        raise ValidationFailed(fields={"user_ids": [gettext("At most %(limit)s people in a conversation, you included.")
                % {"limit": limit}]})
    people = list(User.objects.filter(id__in=ids, status=User.Status.ACTIVE, is_active=True))
    if len(people) != len(ids):
        raise ValidationFailed(fields={"user_ids": [gettext("No such user.")]})
    return people


def dm_reachable_ids(actor: User, user_ids) -> set:
    """Which of ``user_ids`` the actor may open a DM with under DM_POLICY:
    everyone with ``anyone``; with ``shared``, those who share an
    organization (active memberships on both sides) or a room with them."""
    user_ids = set(user_ids)
    if settings.DM_POLICY == POLICY_ANYONE:
        return user_ids
    return set(selectors.people_sharing_with(user=actor).filter(id__in=user_ids).values_list("id", flat=True))


def blocked_by_any(user: User, other_ids) -> bool:
    """Whether any of ``other_ids`` blocked ``user``."""
    return UserBlock.objects.filter(blocker_id__in=list(other_ids), blocked=user).exists()


@transaction.atomic
def dm_open(*, actor: User, user_ids) -> tuple[Room, bool]:
    """The DM (one other person) or group DM (more) of the actor and
    ``user_ids``: the existing one, or a new one. Returns (room, created)."""
    people = _people(actor, user_ids)
    other_ids = {p.id for p in people}
    if blocked_by_any(actor, other_ids):
        raise PermissionDenied(_("You cannot message this person."), code="blocked")
    if other_ids - dm_reachable_ids(actor, other_ids):
        raise PermissionDenied(_("You can message only people who share an organization or a room with you."))
    kind = Kind.DM if len(people) == 1 else Kind.GROUP_DM
    key = dm_key(kind, other_ids | {actor.id})
    existing = Room.objects.filter(dm_key=key).first()
    if existing is not None:
        return existing, False
    room = Room(id=uuid.uuid4(), kind=kind, name="", owner=actor, dm_key=key, max_members=len(people) + 1,
                allow_invites=False)
    try:
        with transaction.atomic():
            room.save(force_insert=True)
    except IntegrityError:
        # Opened at the same moment by someone else, whose insert committed first.
        existing = Room.objects.filter(dm_key=key).first()
        if existing is None:
            raise
        return existing, False
    everyone = [actor, *people]
    RoomMember.objects.bulk_create([RoomMember(room=room, user=u, role=Role.MEMBER) for u in everyone])
    _audit("room.dm.created", actor=actor, room=room, details={
        "kind": kind, "user_ids": sorted(str(u.id) for u in everyone)})
    for user in everyone:
        # Each person's sockets subscribe to the new room without reconnecting.
        frame = {"type": "member.joined", "room_id": str(room.id), "user": user_dict(user)}
        realtime.user_event(user.id, frame, room=str(room.id), subject=str(user.id))
    return room, True


def group_dm_rekey(room: Room) -> None:
    """After someone left a group DM: its key follows the people still in it,
    unless another group DM has exactly them (then it has none, and opening
    a group DM with them finds that other one)."""
    remaining = list(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
    key = dm_key(Kind.GROUP_DM, remaining)
    try:
        with transaction.atomic():
            Room.objects.filter(pk=room.pk).update(dm_key=key)
    except IntegrityError:
        Room.objects.filter(pk=room.pk).update(dm_key=None)


# --------------------------------------------------------------------------- blocks


def _other_user(actor: User, user) -> User:
    target = User.objects.filter(pk=user.pk).first()
    if target is None:
        raise NotFound(_("No such user."))
    if target.pk == actor.pk:
        raise ValidationFailed(fields={"user_id": [gettext("You cannot block yourself.")]})
    return target


@transaction.atomic
def block_add(*, actor: User, user: User) -> UserBlock:
    """Block ``user`` (again is a no-op): they can no longer open a DM with
    the actor or post in their DM, and their mentions and messages no
    longer notify the actor."""
    target = _other_user(actor, user)
    block, created = UserBlock.objects.get_or_create(blocker=actor, blocked=target)
    if created:
        audit_record(action="user.blocked", actor=actor, resource_type="user", resource_id=str(target.id))
    return block


@transaction.atomic
def block_remove(*, actor: User, user: User) -> None:
    target = _other_user(actor, user)
    deleted, _count = UserBlock.objects.filter(blocker=actor, blocked=target).delete()
    if not deleted:
        raise NotFound(_("You have not blocked this user."))
    audit_record(action="user.unblocked", actor=actor, resource_type="user", resource_id=str(target.id))


# --------------------------------------------------------------------------- legal hold


@transaction.atomic
def dm_legal_hold_export(*, actor: User, room: Room) -> dict:
    """Every message of a DM, deleted ones and earlier versions included,
    for a legal hold: for active site staff only, and audited (the one way
    staff read a DM's messages)."""
    if not (actor.is_staff and actor.is_active):
        raise PermissionDenied(_("Only staff export a conversation for a legal hold."))
    room = Room.objects.filter(pk=room.pk).first()
    if room is None or not room.is_dm:
        raise NotFound(_("No such direct message."))
    people = list(RoomMember.objects.filter(room=room).select_related("user").order_by("joined_at", "id"))
    rows = list(Message.objects.filter(room=room).select_related("user").order_by("created_at", "id"))
    edits: dict = {}
    for e in MessageEdit.objects.filter(message_id__in=[m.id for m in rows]).order_by("edited_at", "id"):
        edits.setdefault(e.message_id, []).append({"content": e.content, "edited_at": e.edited_at.isoformat()})
    _audit("room.dm.exported", actor=actor, room=room, staff=True,
           details={"kind": room.kind, "messages": len(rows), "reason": "legal_hold"})
    return {
        "room": {"id": str(room.id), "kind": room.kind, "created_at": room.created_at.isoformat()},
        "participants": [{"id": str(m.user_id), "username": m.user.username} for m in people],
        "messages": [{
            "id": str(m.id), "created_at": m.created_at.isoformat(), "user_id": str(m.user_id),
            "username": m.user.username, "message_type": m.message_type, "content": m.content,
            "is_deleted": m.is_deleted, "is_edited": m.is_edited, "earlier_versions": edits.get(m.id, []),
        } for m in rows],
    }

