"""Room powers by role, with per-member overrides. The one place that says
who may do what in a room; the services ask ``has_power``, and the posting
function in the database judges "post" by ``power_sql``, rendered from the
same tables."""

from __future__ import annotations

from chatroom.models import RoomMember

Role = RoomMember.Role

RANK = {Role.OWNER: 4, Role.ADMIN: 3, Role.MODERATOR: 2, Role.MEMBER: 1}

# power -> the lowest role that has it
POWERS: dict[str, str] = {
    "post": Role.MEMBER,
    "react": Role.MEMBER,
    "edit_own": Role.MEMBER,
    "delete_own": Role.MEMBER,
    "invite": Role.MEMBER,  # only while the room allows invites; admins always
    "delete_any": Role.MODERATOR,
    "mute": Role.MODERATOR,
    "kick": Role.MODERATOR,
    "pin": Role.MODERATOR,
    "approve": Role.MODERATOR,  # join requests
    "see_deleted": Role.MODERATOR,  # sees that a message was removed
    "manage_settings": Role.ADMIN,
    "manage_members": Role.ADMIN,
    "assign_roles": Role.ADMIN,  # roles below their own; admins assign moderator/member
    "delete_room": Role.OWNER,
    "transfer_ownership": Role.OWNER,
}
# Overrides never hand these out: they stay the owner's.
OWNER_ONLY = {"delete_room", "transfer_ownership"}


def rank(role: str) -> int:
    return RANK[role]


def has_power(member: RoomMember | None, power: str) -> bool:
    if member is None:
        return False
    if power not in POWERS:
        raise ValueError(f"unknown room power {power!r}")
    if member.role == Role.OWNER:
        return True  # the owner may do everything
    if power in OWNER_ONLY:
        return False
    override = (member.permissions or {}).get(power)
    if isinstance(override, bool):
        return override
    return RANK[member.role] >= RANK[POWERS[power]]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def power_sql(power: str, *, role: str, permissions: str) -> str:
    """``has_power`` as a SQL boolean expression, rendered from the same
    tables, for a database function that judges a member itself
    (chat_message_post judges "post" under the posting lock). ``role`` and
    ``permissions`` are SQL expressions for an existing member's role (text)
    and permission overrides (jsonb). tests/chatroom/test_posting_rules.py
    checks the two agree for every power, role and override."""
    if power not in POWERS:
        raise ValueError(f"unknown room power {power!r}")
    owner = _sql_text(Role.OWNER)
    if power in OWNER_ONLY:
        return f"({role} = {owner})"
    key = _sql_text(power)
    holders = ", ".join(_sql_text(r) for r, n in RANK.items() if n >= RANK[POWERS[power]])
    return (f"({role} = {owner} OR CASE WHEN jsonb_typeof({permissions} -> {key}) = 'boolean' "
            f"THEN ({permissions} ->> {key})::boolean ELSE {role} IN ({holders}) END)")


def outranks(actor: RoomMember, target: RoomMember) -> bool:
    """Moderation (kick, mute, role changes) only goes downwards."""
    return RANK[actor.role] > RANK[target.role]


def assignable_roles(actor: RoomMember) -> list[str]:
    """The roles ``actor`` may give: owners any but owner (ownership is
    transferred instead), others only roles below their own."""
    if not has_power(actor, "assign_roles"):
        return []
    if actor.role == Role.OWNER:
        return [Role.ADMIN, Role.MODERATOR, Role.MEMBER]
    return [r for r in (Role.MODERATOR, Role.MEMBER) if RANK[r] < RANK[actor.role]]


def can_invite(member: RoomMember | None, room) -> bool:
    """Members invite while the room allows invites; admins always."""
    return has_power(member, "invite" if room.allow_invites else "manage_members")


def blocked_poster_sql(*, room: str, user: str) -> str:
    """Whether another member of the DM ``room`` blocked ``user``, as a SQL
    boolean (``room`` and ``user`` are SQL expressions for uuids).
    chat_message_post (migration 0009) refuses such a post with ``blocked``:
    posting has one path, and this is its rule, nowhere else."""
    return (f"EXISTS (SELECT 1 FROM user_blocks b JOIN room_members o ON o.room_id = {room} "
            f"AND o.user_id = b.blocker_id WHERE b.blocked_id = {user})")
