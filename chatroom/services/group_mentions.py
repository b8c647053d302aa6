"""Group mentions (issue 18): ``@all`` (every member of the room), ``@here``
(the members with a socket online now) and ``@<department handle>`` (the
active members of that department and its sub-departments who are in the
room).

Resolving a group is Python's (which names, which departments, who is
online); storing it is one set-based statement per message, whatever the
group's size: a CTE picks the targets from room_members, inserts their
message_mentions rows and their ``mention`` notifications, and returns them.
The statement runs in the posting transaction, right after
chat_message_post, so a message and its mentions commit together.

``@all`` and ``@here`` in a room of more than GROUP_MENTION_FREE_MEMBERS
members need room admin or higher; anyone else's message is refused whole
(403 ``group_mention_forbidden``), before anything is stored. Department
handles need no role: they reach a team, not the room."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom.models import Room, RoomMember
from chatroom.permissions import RANK
from core.errors import PermissionDenied
from orgs.models import Department, Membership
from realtime import presence

ALL, HERE = "all", "here"
SPECIAL = (ALL, HERE)
FORBIDDEN_CODE = "group_mention_forbidden"


@dataclass
class Groups:
    """The groups one message mentions."""

    special: set[str] = field(default_factory=set)  # all / here
    departments: list[Department] = field(default_factory=list)
    online: list[str] = field(default_factory=list)  # for @here

    @property
    def names(self) -> list[str]:
        return sorted(self.special) + sorted(d.handle for d in self.departments)

    def __bool__(self) -> bool:
        return bool(self.special or self.departments)


def free_members() -> int:
    return getattr(settings, "GROUP_MENTION_FREE_MEMBERS", 10)


def _department_ids_under(departments: list[Department]) -> list[uuid.UUID]:
    """The departments and all their descendants (one read of each org's tree)."""
    if not departments:
        return []
    children: dict = {}
    for dept_id, parent_id in Department.objects.filter(org_id__in={d.org_id for d in departments}).values_list(
            "id", "parent_id"):
        children.setdefault(parent_id, []).append(dept_id)
    found, todo = set(), [d.pk for d in departments]
    while todo:
        node = todo.pop()
        if node not in found:
            found.add(node)
            todo.extend(children.get(node, ()))
    return list(found)


def departments_for(*, room_id, actor: User, handles: set[str]) -> list[Department]:
    """The departments these handles name for a message in this room: in the
    room's organization, or, for a room without one (a DM, a private room),
    in the organizations the author is an active member of."""
    if not handles:
        return []
    org_id = Room.objects.filter(pk=room_id).values_list("org_id", flat=True).first()
    qs = Department.objects.filter(handle__in=handles)
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    else:
        qs = qs.filter(org_id__in=Membership.objects.filter(user=actor, is_active=True).values("org_id"))
    return list(qs)


def resolve(*, room_id, actor: User, names: set[str]) -> Groups:
    """The groups among ``names`` (the lower-cased @words of a message),
    refusing @all/@here where the author may not use them."""
    groups = Groups(special={n for n in names if n in SPECIAL})
    groups.departments = departments_for(room_id=room_id, actor=actor, handles=names - set(SPECIAL))
    if groups.special:
        members = RoomMember.objects.filter(room_id=room_id)
        if members.count() > free_members():
            role = members.filter(user=actor).values_list("role", flat=True).first()
            if role is None or RANK[role] < RANK[RoomMember.Role.ADMIN]:
                word = _(" and ").join(f"@{n}" for n in sorted(groups.special))
                raise PermissionDenied(
                    _("Only room admins may use %(mention)s in a room of more than %(count)s members. "
                      "Send the message without it, or mention people by name.")
                    % {"mention": word, "count": free_members()}, code=FORBIDDEN_CODE)
        if HERE in groups.special and ALL not in groups.special:
            groups.online = presence.online_in_room(room_id)
    return groups


# One statement: the targets, their mention rows and their notifications.
# Targets: members of the room other than the author, active users, who did
# not block the author and were not mentioned by name already (those are in
# p_mentions of chat_message_post, and notified by message_send).
_STORE_SQL = """
WITH targets AS (
    SELECT rm.user_id, rm.notify_level FROM room_members rm
      JOIN users u ON u.id = rm.user_id AND u.status = 'active'
     WHERE rm.room_id = %(room)s AND rm.user_id <> %(author)s
       AND rm.user_id <> ALL(%(named)s::uuid[])
       AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocked_id = %(author)s AND b.blocker_id = rm.user_id)
       AND (%(all)s
            OR rm.user_id = ANY(%(online)s::uuid[])
            OR EXISTS (SELECT 1 FROM user_roles m
                        WHERE m.user_id = rm.user_id AND m.is_active
                          AND (m.expires_at IS NULL OR m.expires_at > now())
                          AND m.department_id = ANY(%(departments)s::uuid[])))
), stored AS (
    INSERT INTO message_mentions (message_id, message_created_at, room_id, user_id)
    SELECT %(message)s, %(created_at)s, %(room)s, t.user_id FROM targets t
    ON CONFLICT DO NOTHING
    RETURNING user_id
), notified AS (
    INSERT INTO notifications (id, user_id, type, title, message, data, priority, is_read, is_archived, created_at)
    SELECT gen_random_uuid(), t.user_id, 'mention', %(title)s, %(text)s, %(data)s::jsonb, 'normal', false, false,
           %(now)s
      FROM targets t
      JOIN stored s ON s.user_id = t.user_id
      LEFT JOIN user_profiles p ON p.user_id = t.user_id
     WHERE %(notify)s AND t.notify_level <> 'none'
       AND COALESCE(p.notifications ->> 'mention', 'true') <> 'false'
    RETURNING id, user_id
)
SELECT s.user_id, n.id FROM stored s LEFT JOIN notified n ON n.user_id = s.user_id
"""


def store(*, message, author_id, groups: Groups, named=(), notification: dict | None = None) -> list[tuple]:
    """Store the group's mentions of ``message`` (and, given ``notification``
    {title, text, data}, its notifications) in one statement; returns
    [(user_id, notification_id or None)] for the users it reached."""
    now = timezone.now()
    note = notification or {"title": "", "text": "", "data": {}}
    with connection.cursor() as cursor:
        cursor.execute(_STORE_SQL, {
            "room": message.room_id, "author": author_id, "named": [str(u) for u in named],
            "all": ALL in groups.special, "online": groups.online,
            "departments": [str(d) for d in _department_ids_under(groups.departments)],
            "message": message.id, "created_at": message.created_at,
            "notify": notification is not None, "title": note["title"][:255], "text": note["text"],
            "data": json.dumps(note["data"]), "now": now,
        })
        return cursor.fetchall()


def unmention(*, message) -> None:
    """Drop every mention of a message (an edit stores them again)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM message_mentions WHERE message_id = %s AND message_created_at = %s",
                       [message.id, message.created_at])


def mentionable_groups(*, room: Room, actor: User) -> list[dict]:
    """What the composer's autocomplete offers besides people: @all, @here
    (with whether the actor may use them here) and the departments with a
    handle that reach members of this room, each with how many."""
    members = RoomMember.objects.filter(room=room)
    count = members.count()
    role = members.filter(user=actor).values_list("role", flat=True).first()
    allowed = count <= free_members() or (role is not None and RANK[role] >= RANK[RoomMember.Role.ADMIN])
    online = len(presence.online_in_room(room.pk))
    out = [{"kind": "group", "handle": ALL, "name": "Everyone in this room", "members": count, "allowed": allowed},
           {"kind": "group", "handle": HERE, "name": "Everyone online in this room", "members": online,
            "allowed": allowed}]
    org_q = Q(org_id=room.org_id) if room.org_id else Q(
        org_id__in=Membership.objects.filter(user=actor, is_active=True).values("org_id"))
    for dept in Department.objects.filter(org_q, handle__isnull=False).select_related("org").order_by("handle"):
        ids = _department_ids_under([dept])
        reach = members.filter(user__status=User.Status.ACTIVE, user__memberships__department_id__in=ids,
                               user__memberships__is_active=True).filter(
            Q(user__memberships__expires_at__isnull=True) | Q(user__memberships__expires_at__gt=timezone.now())
        ).values("user_id").distinct().count()
        out.append({"kind": "department", "handle": dept.handle, "name": dept.name, "org_id": str(dept.org_id),
                    "members": reach, "allowed": True})
    return out
