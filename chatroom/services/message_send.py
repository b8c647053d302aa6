"""Posting a message, every kind of it: plain, a reply, with mentions, with
attachments, and the system messages other services post about members.

Every message is stored by one database call, chat_message_post (migration
0006). It takes the room's posting lock, judges the post (member, archived,
"post" power with its overrides, muted), stamps created_at from the database
clock under the lock, claims the client id, reads the room's previous
message, inserts the row, links the attachments, stores the mentions and
appends the audit entry. So the rules are written once, in that function, and
one clock orders every message whatever app server posted it. Python
validates the input, resolves mentions, signs the audit entry, maps the
function's outcome onto the API's errors, and then notifies and broadcasts.

A post that notifies nobody (most of them) is that one call and nothing else:
outside a caller's transaction it is its own. One that notifies (a mention, a
reply) runs in a transaction, so the notifications commit with it."""

from __future__ import annotations

import contextlib
import json
import re
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import notifications
from accounts.models import Notification, User
from audit.services import NO_ENTRY, append_sql_placeholders, entry_params
from chatroom import cursors, unread
from chatroom.markdown import MENTION_RE  # the mention rule, one definition with the renderer's
from chatroom.models import Attachment, Message, MessageClientId, Room, RoomMember, UserBlock
from chatroom.presenters import jump_url, new_message_dict
from chatroom.ratelimit import check_message_rate
from chatroom.services import group_mentions, threads
from chatroom.services._common import _audit_fields
from chatroom.signals import message_posted
from core import coded_texts
from core.db import run_bound
from core.errors import Conflict, PermissionDenied, ValidationFailed, parse_uuid
from core.jsonable import jsonable
from orgs.models import Organization
from realtime import broadcast as realtime

CLIENT_ID_MAX = 64
ATTACHMENTS_MAX = 10
USER_MESSAGE_TYPES = {Message.Type.TEXT, Message.Type.IMAGE, Message.Type.FILE}


def _validate_content(content: str, *, allow_empty: bool = False) -> str:
    """The text as it is stored. NUL is dropped here; the faces refuse it
    before (config.safejson: a validation_error on the API and the socket)."""
    if not isinstance(content, str):
        raise ValidationFailed(fields={"content": [gettext("Text is required.")]})
    content = content.replace("\x00", "").strip()
    if not content and not allow_empty:
        raise ValidationFailed(fields={"content": [gettext("A message needs text.")]})
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(content) > limit:
        raise ValidationFailed(fields={"content": [gettext("At most %(limit)s characters.") % {"limit": limit}]})
    return content


def _attachment_ids(attachment_ids) -> list[uuid.UUID]:
    unknown = ValidationFailed(fields={"attachment_ids": [gettext("Unknown, already used, or not your upload.")]})
    ids = []
    for value in attachment_ids or ():
        try:
            ids.append(uuid.UUID(str(value)))
        except (TypeError, ValueError, AttributeError):
            raise unknown from None
    ids = list(dict.fromkeys(ids))
    if len(ids) > ATTACHMENTS_MAX:
        raise ValidationFailed(fields={"attachment_ids": [gettext("At most %(limit)s attachments.")
                % {"limit": ATTACHMENTS_MAX}]})
    return ids


def _blockers_of(author_id):
    """The users who blocked ``author_id`` (a subquery): they get no mentions
    or notifications from them."""
    return UserBlock.objects.filter(blocked_id=author_id).values("blocker_id")


def mentioned_names(content: str) -> set[str]:
    """The lower-cased @words of ``content``: usernames, @all, @here, handles."""
    return {n.rstrip(".").lower() for n in MENTION_RE.findall(content)}


def mentioned_user_ids(*, room_id, author_id, content: str) -> list[uuid.UUID]:
    """The members of the room that ``content`` (as stored) mentions by
    @username, the author and those who blocked the author left out."""
    names = mentioned_names(content)
    if not names:
        return []
    pattern = r"^(" + "|".join(re.escape(n) for n in sorted(names)) + r")$"
    return list(RoomMember.objects.filter(room_id=room_id, user__username__iregex=pattern)
                .exclude(user_id=author_id).exclude(user_id__in=_blockers_of(author_id))
                .values_list("user_id", flat=True))


# --------------------------------------------------------------------------- the one database call

_POST_SQL = (
    "SELECT outcome, message_created_at, prev_created_at, prev_id, reply_to_created_at, org_id, org_name, "
    "thread_created_at "
    "FROM chat_message_post(%s::uuid, %s::uuid, %s::boolean, %s::text, %s::jsonb, %s::uuid[], %s::uuid[], "
    + append_sql_placeholders() + ")"
)

# What each refusal of chat_message_post means to the poster, in the order
# the function judges them.
_REFUSALS = {
    "not_member": lambda: PermissionDenied(_("You are not a member of this room.")),
    "archived": lambda: Conflict(_("This room is archived.")),
    "forbidden": lambda: PermissionDenied(_("You may not post in this room.")),
    "muted": lambda: PermissionDenied(_("You are muted in this room.")),
    "blocked": lambda: PermissionDenied(_("You cannot message this person."), code="blocked"),
    "no_reply": lambda: ValidationFailed(fields={"reply_to": [gettext("No such message in this room.")]}),
    "no_thread": lambda: ValidationFailed(fields={"thread_id": [gettext("No such message in this room.")]}),
    "thread_reply": lambda: ValidationFailed(fields={"thread_id": [gettext("A reply in a thread cannot start another thread.")]}),
    "bad_attachments": lambda: ValidationFailed(fields={"attachment_ids": [gettext("Unknown, already used, or not your upload.")]}),
}
STALE_RETRIES = 3


class _RoomOrgs:
    """The org (id and name) each room was last seen in. A post's audit entry
    names the room's org, and it is signed here, before the one database
    call, so that call cannot read them for itself; reading them first would
    cost a round trip per message. Instead the call compares them with the
    room's row under the lock and answers ``stale`` with the current ones, and
    the entry is signed again. So what is kept here never decides anything. A
    room not seen yet is first tried as having no org, as most have none."""

    MAX_ENTRIES = 20_000

    def __init__(self):
        self.entries: dict[str, Organization | None] = {}

    def get(self, room_id) -> Organization | None:
        return self.entries.get(str(room_id))

    def put(self, room_id, org_id, org_name: str | None) -> None:
        if len(self.entries) >= self.MAX_ENTRIES:
            self.entries.clear()
        self.entries[str(room_id)] = Organization(id=org_id, name=org_name or "") if org_id else None


_room_orgs = _RoomOrgs()


class _RoomKinds:
    """Each room's kind, which never changes once the room exists: a post
    needs it (a DM's message notifies its other people) before the one
    database call, and reads it from the database once per room and process."""

    MAX_ENTRIES = 20_000

    def __init__(self):
        self.entries: dict[str, str] = {}

    def get(self, room_id) -> str | None:
        key = str(room_id)
        if key not in self.entries:
            kind = Room.objects.filter(pk=room_id).values_list("kind", flat=True).first()
            if kind is None:
                return None  # no such room; the posting call answers for it
            if len(self.entries) >= self.MAX_ENTRIES:
                self.entries.clear()
            self.entries[key] = kind
        return self.entries[key]


room_kinds = _RoomKinds()


def room_lane(room_id) -> str:
    """The audit lane of a room's posts (audit.chain, "Lanes"): posts in
    different rooms then take no chain lock in common, only their room's."""
    return f"room:{room_id}"
_MESSAGE_FIELDS = Message._meta.concrete_fields


def _insert(message: Message, *, judge: bool, client_id: str | None = None, attachment_ids=(), mentions=(),
            details: dict | None = None) -> str:
    """Store ``message`` (built, not saved) through chat_message_post and
    return its outcome. ``judge``: apply the posting rules (every post a
    user makes); ``details``: the details of its ``message.posted`` audit
    entry (None: no entry). On ``posted`` the message is as stored:
    created_at, reply_to_created_at, and ``prev_cursor``, the room's
    previous message, which rides along with the broadcast so sockets can
    tell when they missed one."""
    row = json.dumps({f.column: getattr(message, f.attname) for f in _MESSAGE_FIELDS}, default=jsonable)
    for _attempt in range(STALE_RETRIES):
        if details is None:
            audit_args = NO_ENTRY
        else:
            room = Room(id=message.room_id, org=_room_orgs.get(message.room_id))
            audit_args = entry_params(**_audit_fields("message.posted", actor=message.user, room=room,
                                                      resource_type="message", resource_id=message.id,
                                                      details=details), lane=room_lane(message.room_id))
        # Bound on the server, so psycopg prepares the statement after a few runs.
        outcome, created_at, prev_at, prev_id, reply_at, org_id, org_name, thread_at = run_bound(_POST_SQL, [
            message.room_id, message.user_id, judge, client_id, row, list(attachment_ids), list(mentions),
            *audit_args])
        if outcome != "stale":
            break
        _room_orgs.put(message.room_id, org_id, org_name)
    else:
        raise Conflict(_("The room changed while the message was being posted; send it again."))
    if outcome == "posted":
        message.created_at = message.updated_at = created_at
        message.reply_to_created_at = reply_at
        message.thread_created_at = thread_at
        message._state.adding, message._state.db = False, connection.alias
        message.prev_cursor = cursors.encode(prev_at, prev_id) if prev_at else None
        unread.room_changed(message.room_id)
        message_posted.send(sender=Message, message=message)
    return outcome


def _draft(*, room_id, user: User, content: str, message_type: str, reply_to=None, metadata=None,
           thread_id=None, also_to_room: bool = False) -> Message:
    # created_at is the database's (chat_message_post); the app's clock never stamps a message.
    return Message(id=uuid.uuid4(), room_id=room_id, user=user, content=content, message_type=message_type,
                   reply_to_id=reply_to, metadata=metadata or {}, created_at=None, thread_id=thread_id,
                   also_to_room=also_to_room)


def _broadcast_new(message: Message, body: dict) -> None:
    """Broadcast a new message; ``body`` stays on it (``message.body``) so the
    poster's own answer (the socket's ack) is the same object, not a re-read."""
    message.body = body
    realtime.message_new(body, prev_cursor=message.prev_cursor)


# --------------------------------------------------------------------------- posting


def message_post(
    *,
    actor: User,
    room: Room,
    content: str,
    message_type: str = Message.Type.TEXT,
    reply_to: uuid.UUID | str | None = None,
    client_id: str | None = None,
    attachment_ids: list | tuple = (),
    thread_id: uuid.UUID | str | None = None,
    also_to_room: bool = False,
) -> Message:
    """Post a message. Sending a client_id again returns the first message
    (``message.deduplicated`` is True then) and stores nothing new. ``room``
    may be a bare ``Room(pk=...)``: the database reads the room itself.
    ``thread_id``: a reply in the thread of that root (chat_message_post
    judges it), shown in the room's history too with ``also_to_room``.
    Every send counts towards the sender's message rate (resends too), on
    every face alike."""
    check_message_rate(actor)
    if client_id is not None and (not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_ID_MAX):
        raise ValidationFailed(fields={"client_id": [gettext("1 to %(limit)s characters.") % {"limit": CLIENT_ID_MAX}]})
    if message_type not in USER_MESSAGE_TYPES:
        raise ValidationFailed(fields={"message_type": [gettext("One of text, image, file.")]})
    attachment_ids = _attachment_ids(attachment_ids)
    content = _validate_content(content, allow_empty=bool(attachment_ids))
    reply_to = parse_uuid(reply_to, "reply_to", optional=True)
    thread_id = parse_uuid(thread_id, "thread_id", optional=True)
    if not isinstance(also_to_room, bool):
        raise ValidationFailed(fields={"also_to_room": [gettext("true or false.")]})
    if also_to_room and thread_id is None:
        raise ValidationFailed(fields={"also_to_room": [gettext("Only for a reply in a thread (thread_id).")]})
    # On the text as stored: "@\x00alice" is stored as "@alice", and mentions her.
    mentioned, groups = [], None
    if MENTION_RE.search(content):
        mentioned = mentioned_user_ids(room_id=room.pk, author_id=actor.pk, content=content)
        # Refuses @all/@here the author may not use, before anything is stored.
        groups = group_mentions.resolve(room_id=room.pk, actor=actor, names=mentioned_names(content)) or None
    in_dm = room_kinds.get(room.pk) not in (None, Room.Kind.CHANNEL)
    # A thread reply also updates its thread's summary and notifies its followers.
    notifies = bool(mentioned) or groups is not None or reply_to is not None or in_dm or thread_id is not None
    with transaction.atomic() if notifies else contextlib.nullcontext():
        return _post(actor=actor, room_id=room.pk, content=content, message_type=message_type, reply_to=reply_to,
                     client_id=client_id, attachment_ids=attachment_ids, mentioned=mentioned, in_dm=in_dm,
                     thread_id=thread_id, also_to_room=also_to_room, groups=groups)


def _post(*, actor: User, room_id, content: str, message_type: str, reply_to, client_id, attachment_ids,
          mentioned, in_dm: bool = False, thread_id=None, also_to_room: bool = False, groups=None) -> Message:
    attachments = []
    if attachment_ids:
        if client_id is not None:
            # A resend's uploads are linked already and would fail their
            # check; it is answered by its client id first.
            earlier = _deduplicated(actor, client_id)
            if earlier is not None:
                return earlier
        # Read for the message's type and the broadcast; chat_message_post
        # checks (and locks) them under the posting lock.
        attachments = list(Attachment.objects.filter(id__in=attachment_ids, uploader=actor, message__isnull=True))
        if message_type == Message.Type.TEXT:
            images = attachments and all(a.is_image for a in attachments)
            message_type = Message.Type.IMAGE if images else Message.Type.FILE

    message = _draft(room_id=room_id, user=actor, content=content, message_type=message_type, reply_to=reply_to,
                     thread_id=thread_id, also_to_room=also_to_room)
    details = {"message_type": message_type, "reply_to": str(reply_to) if reply_to else None,
               "attachments": len(attachment_ids), "mentions": len(mentioned)}
    if groups is not None:
        details["mention_groups"] = groups.names
    if thread_id is not None:
        details.update(thread_id=str(thread_id), also_to_room=also_to_room)
    outcome = _insert(message, judge=True, client_id=client_id, attachment_ids=attachment_ids, mentions=mentioned,
                      details=details)
    if outcome == "duplicate":  # this client_id was stored first by an earlier send
        return _deduplicated(actor, client_id)
    if outcome != "posted":
        raise _REFUSALS[outcome]()

    parent = None
    if reply_to is not None:
        parent = Message.objects.select_related("user").get(id=reply_to, created_at=message.reply_to_created_at)
    for attachment in attachments:
        attachment.message_id, attachment.message_created_at = message.id, message.created_at
        attachment.room_id = room_id
    followers = threads.followers(message) if thread_id is not None else ()
    reached = _store_groups(message, actor, groups, named=mentioned) if groups is not None else []
    _notify_message(message=message, actor=actor, mentioned=mentioned, parent=parent, in_dm=in_dm,
                    followers=followers, grouped=set(reached))
    message.deduplicated = False
    body = new_message_dict(message, attachments=attachments, mentions=[*mentioned, *reached], parent=parent)
    if groups is not None:
        body["mention_groups"] = groups.names
    _broadcast_new(message, body)
    if thread_id is not None:
        threads.broadcast_summary(message)
    return message


def _deduplicated(actor: User, client_id: str) -> Message | None:
    row = MessageClientId.objects.filter(user=actor, client_id=client_id).first()
    if row is None:
        return None
    message = Message.objects.select_related("user").get(id=row.message_id, created_at=row.message_created_at)
    message.deduplicated = True
    return message


def system_message_post(*, room: Room, user: User, event: str, extra: dict | None = None) -> Message:
    """A system message about ``user`` (joined, left, was removed, renamed
    the room), posted by the service that made that change, which judged
    and audits it: the same call as every post, without the posting rules
    (a member who just left is no member) and without an entry of its own.

    ``event`` is its code in core.coded_texts.SYSTEM_MESSAGES and ``extra``
    its parameters (and ids), both kept in ``metadata``; the user it is
    about is ``user``. ``content`` stores the English rendering (the
    database's, old clients'); every reader reads it in their own language
    (presenters.system_text), the sockets too (frames.localized_message)."""
    metadata = {"event": event, **(extra or {})}
    params = {k: v for k, v in metadata.items() if k != "event"}
    content = coded_texts.english(coded_texts.SYSTEM_MESSAGES, event, {**params, "user": user.username})
    message = _draft(room_id=room.pk, user=user, content=content, message_type=Message.Type.SYSTEM,
                     metadata=metadata)
    outcome = _insert(message, judge=False)
    assert outcome == "posted", outcome  # nothing but the rules refuses a message without a client id
    message.body = new_message_dict(message)
    # Rendered again for each socket's language on its way out (realtime.languages).
    realtime.message_new(message.body, prev_cursor=message.prev_cursor, localize=True)
    return message


def _notification_data(message: Message, actor: User, room: Room) -> dict:
    """What a message's notifications carry (``data``), links included."""
    return {"room_id": str(room.id), "room_name": room.name, "message_id": str(message.id),
            "thread_id": str(message.thread_id) if message.thread_id else None,
            "message_created_at": message.created_at.isoformat(), "author_id": str(actor.id),
            "excerpt": notifications.excerpt(message.content),
            # Opens the room at the message (a thread reply: its thread, beside the room).
            "url": jump_url(room.id, message.id, message.thread_id, message.also_to_room)}


def _store_groups(message: Message, actor: User, groups, *, named) -> list[uuid.UUID]:
    """Store a group mention's rows and notifications (one statement, see
    group_mentions) and push each notification after commit; returns the
    users it reached."""
    room = Room.objects.only("id", "name", "kind").get(pk=message.room_id)
    data = _notification_data(message, actor, room)
    word = ", ".join(f"@{n}" for n in groups.names)
    title, spec = notifications.coded(coded_texts.in_room("group_mention", is_dm=room.is_dm), actor=actor.username,
                                      groups=word, room=room.name)
    note = {"title": title, "text": data["excerpt"], "data": {**data, "groups": groups.names, "i18n": spec}}
    rows = group_mentions.store(message=message, author_id=actor.id, groups=groups, named=named, notification=note)
    now = timezone.now()
    # Each pushed in its recipient's language.
    notifications.push([Notification(id=notification_id, user_id=user_id, type=Notification.Type.MENTION,
                                     title=note["title"][:255], message=note["text"], data=note["data"],
                                     created_at=now)
                        for user_id, notification_id in rows if notification_id is not None])
    return [user_id for user_id, _ in rows]


def _notify_message(*, message: Message, actor: User, mentioned: list[uuid.UUID], parent: Message | None,
                    in_dm: bool = False, followers=(), grouped=frozenset()) -> None:
    """Notify, in the posting transaction, each member the message mentions
    (``mention``), the author of the message it replies to (``new_message``
    with reason "reply"), for a reply in a thread the thread's followers
    (``new_message`` with reason "thread") and, in a DM or group DM, its
    other people (``new_message`` with reason "dm"), once each: a mention
    wins over a reply, a reply over a thread, a thread over a DM. The poster never notifies themself
    (mentioned_user_ids leaves them out); members who switched the room's
    notifications off (notifications_enabled, the "mute room notifications"
    switch, notify_level "none"), who left the room, or who blocked the poster
    get nothing; those with notify_level "mentions" only their mentions.
    Members a group mention reached (``grouped``) have their mention
    already. Three queries whatever the number of recipients (with the
    room's name)."""
    reasons = {user_id: "mention" for user_id in mentioned}
    if parent is not None and parent.user_id != actor.id:
        reasons.setdefault(parent.user_id, "reply")
    for user_id in followers:
        reasons.setdefault(user_id, "thread")
    if not reasons and not in_dm:
        return
    members = RoomMember.objects.filter(room_id=message.room_id, notifications_enabled=True).exclude(
        user_id__in=_blockers_of(actor.id)).exclude(user_id=actor.id)
    if not in_dm:
        members = members.filter(user_id__in=list(reasons))
    levels = dict(members.values_list("user_id", "notify_level"))
    listening = {u for u, level in levels.items() if u not in grouped}
    if not listening:
        return
    if in_dm:
        for user_id in listening:
            reasons.setdefault(user_id, "dm")
    room = Room.objects.only("id", "name", "kind").get(pk=message.room_id)
    data = _notification_data(message, actor, room)
    text = data["excerpt"]
    # Each title stored as a code (core.coded_texts), read in each reader's language.
    titles = {reason: notifications.coded(reason if reason == "dm" else coded_texts.in_room(reason, is_dm=room.is_dm),
                                          actor=actor.username, room=room.name)
              for reason in set(reasons.values())}
    drafts = []
    for user_id, reason in reasons.items():
        if user_id not in listening:
            continue
        if reason != "mention" and levels[user_id] == RoomMember.NotifyLevel.MENTIONS:
            continue
        title, spec = titles[reason]
        if reason == "dm":
            drafts.append(notifications.Draft(user_id=user_id, type=notifications.Type.NEW_MESSAGE, message=text,
                                              title=title, data={**data, "reason": "dm", "kind": room.kind,
                                                                 "i18n": spec}))
        elif reason == "thread":
            drafts.append(notifications.Draft(user_id=user_id, type=notifications.Type.NEW_MESSAGE, message=text,
                                              title=title, data={**data, "reason": "thread", "i18n": spec}))
        elif reason == "mention":
            drafts.append(notifications.Draft(user_id=user_id, type=notifications.Type.MENTION, message=text,
                                              title=title, data={**data, "i18n": spec}))
        else:
            drafts.append(notifications.Draft(user_id=user_id, type=notifications.Type.NEW_MESSAGE, message=text,
                                              title=title, data={**data, "reason": "reply", "reply_to": str(parent.id),
                                                                 "i18n": spec}))
    notifications.notify_many(drafts=drafts)
