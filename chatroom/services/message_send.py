"""Posting a message: every kind (plain, reply, mention, attachment, and the
system messages other services post), with its mentions, notifications and
broadcast."""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import notifications
from accounts.models import User
from audit.services import APPEND_ARG_TYPES, entry_params, run_bound
from chatroom import cursors, realtime, unread
from chatroom.models import (
    Attachment,
    Mention,
    Message,
    MessageClientId,
    Room,
    RoomMember,
)
from chatroom.presenters import new_message_dict
from chatroom.services._common import (
    _audit,
    _audit_fields,
    _find_in_room,
    _require_active,
    _require_power,
)
from config.errors import PermissionDenied, ValidationFailed
from orgs.models import Organization

MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.\-]{1,50})")


CLIENT_ID_MAX = 64


USER_MESSAGE_TYPES = {Message.Type.TEXT, Message.Type.IMAGE, Message.Type.FILE}


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


def _json_default(value):
    return value.isoformat() if isinstance(value, datetime) else str(value)


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
    row = json.dumps({f.column: getattr(message, f.attname) for f in fields}, default=_json_default)
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
