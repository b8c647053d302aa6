"""Chat reads, always scoped to the actor: a user reads only the rooms they
are a member of, and public rooms' names to discover them.

History pages are keyset pages on (created_at, id). Each page query carries a
created_at window of at most WINDOW (so PostgreSQL prunes to the one or two
monthly partitions it touches) and falls back to one unbounded query only when
that window holds too few rows (a quiet room)."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection, connections
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from chatroom import cursors, thread_state, unread
from chatroom.models import (
    ROOM_VISIBLE,
    Attachment,
    Invite,
    JoinRequest,
    Message,
    MessageEdit,
    Room,
    RoomMember,
    UserBlock,
)
from chatroom.permissions import has_power
from chatroom.presenters import message_dicts
from core.errors import NotFound, PermissionDenied, ValidationFailed, parse_uuid
from core.replicas import read_alias
from core.timestamps import isoformat_z
from orgs.models import Membership
from orgs.permissions import active_membership_q

# One window spans at most two monthly partitions.
WINDOW = timedelta(days=28)
# Messages are stamped by the server clock; allow for skew between app servers.
CLOCK_SKEW = timedelta(minutes=5)
MAX_LIMIT = 100


# --------------------------------------------------------------------------- rooms


def member_of(room: Room, user) -> RoomMember | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return RoomMember.objects.filter(room=room, user=user).first()


def room_get(*, user, room_id) -> Room:
    """A room by id: members see it, and anyone may see a channel's name to
    join it (a private one still needs its password or an invite). A DM or
    group DM exists only for its people: to anyone else, staff included, it
    is the same NotFound as a room that does not exist, on every face."""
    room = Room.objects.filter(id=parse_uuid(room_id, "room_id")).select_related("owner").first()
    if room is None or (room.is_dm and member_of(room, user) is None):
        raise NotFound(_("No such room."))
    return room


def room_for_member(*, user, room_id) -> tuple[Room, RoomMember]:
    room = room_get(user=user, room_id=room_id)
    member = member_of(room, user)
    if member is None:
        raise PermissionDenied(_("You are not a member of this room."))
    return room, member


def rooms_list(*, user, scope: str = "mine", q: str = "") -> QuerySet[Room]:
    if scope == "mine":
        qs = Room.objects.filter(members__user=user)
    elif scope == "public":
        qs = Room.objects.filter(kind=Room.Kind.CHANNEL, is_private=False, archived=False)
    else:
        raise ValidationFailed(fields={"scope": ["One of mine, public."]})
    q = (q or "").strip()
    if q:
        # ILIKE, which idx_chat_rooms_name_like (trigram) serves where pg_trgm exists.
        qs = qs.filter(name__ilike=f"%{connection.ops.prep_for_like_query(q)}%")
    mine = RoomMember.objects.filter(room=OuterRef("pk"), user=user)
    return qs.annotate(is_member=Exists(mine), my_role=Subquery(mine.values("role")[:1])).select_related("owner")


def dm_participants(*, user, rooms) -> dict:
    """{room_id: [the other people of each DM or group DM among ``rooms``,
    as user objects]} in one query; channels are left out."""
    ids = [r.id for r in rooms if r.is_dm]
    found: dict = {rid: [] for rid in ids}
    if not ids:
        return found
    for m in (RoomMember.objects.filter(room_id__in=ids).exclude(user=user).select_related("user")
              .order_by("joined_at", "id")):
        found[m.room_id].append(m.user)
    return found


def dm_with(*, user, other) -> Room | None:
    """The user's DM with ``other``, if they have one."""
    return (Room.objects.filter(kind=Room.Kind.DM, members__user=user).filter(members__user=other)
            .first())


def people_sharing_with(*, user) -> QuerySet[User]:
    """The active users who share a room or an organization with ``user``
    (active memberships on both sides): whom DM_POLICY ``shared`` lets them
    message (chatroom.services.dms), and the group DM picker's list."""
    my_rooms = RoomMember.objects.filter(user=user).values("room_id")
    in_rooms = RoomMember.objects.filter(room_id__in=my_rooms).values("user_id")
    my_orgs = Membership.objects.filter(active_membership_q(), user=user).values("org_id")
    in_orgs = Membership.objects.filter(active_membership_q(), org_id__in=my_orgs).values("user_id")
    return (User.objects.filter(Q(id__in=in_rooms) | Q(id__in=in_orgs), status=User.Status.ACTIVE, is_active=True)
            .exclude(pk=user.pk))


def dm_candidates(*, user, limit: int = 100) -> list:
    """The group DM picker's people, by username."""
    return list(people_sharing_with(user=user).order_by("username")[:limit])


def user_card(*, user_id):
    """Another user as their profile page shows them (username, avatar)."""
    found = User.objects.filter(pk=parse_uuid(user_id, "user_id"), is_active=True).first()
    if found is None:
        raise NotFound("No such user.")
    return found


def blocks(*, user) -> QuerySet[UserBlock]:
    """The people the user blocked, newest first."""
    return UserBlock.objects.filter(blocker=user).select_related("blocked").order_by("-created_at", "-id")


def has_blocked(*, user, other) -> bool:
    return UserBlock.objects.filter(blocker=user, blocked=other).exists()


def with_dm_message_counts(rooms: QuerySet[Room]) -> QuerySet[Room]:
    """``rooms`` with ``dm_messages``: a DM's number of messages (system ones
    left out; None for a channel). What staff see of a DM in the admin, with
    its people, never the messages."""
    counted = (Message.objects.filter(room=OuterRef("pk")).exclude(message_type=Message.Type.SYSTEM)
               .order_by().values("room").annotate(n=Count("id")).values("n"))
    return rooms.annotate(dm_messages=Case(When(~Q(kind=Room.Kind.CHANNEL),
                                               then=Coalesce(Subquery(counted), 0)), default=None))


def room_members(*, user, room: Room) -> QuerySet[RoomMember]:
    if member_of(room, user) is None:
        raise PermissionDenied(_("You are not a member of this room."))
    return RoomMember.objects.filter(room=room).select_related("user").order_by("joined_at", "id")


def join_requests(*, user, room: Room) -> QuerySet[JoinRequest]:
    if not has_power(member_of(room, user), "approve"):
        raise PermissionDenied("Only moderators and above see join requests.")
    return JoinRequest.objects.filter(room=room, status=JoinRequest.Status.PENDING).select_related("user").order_by("created_at")


def invite_get(*, code: str) -> Invite:
    invite = Invite.objects.filter(code=code).select_related("room", "inviter").first()
    if invite is None:
        raise NotFound("No such invite.")
    return invite


# --------------------------------------------------------------------------- history


@dataclass
class Page:
    messages: list[Message]
    prev: str | None  # cursor for older messages, when there are any
    next: str | None  # cursor for newer messages, when there are any
    viewer: object = None

    def as_dict(self) -> dict:
        return {"results": message_dicts(self.messages, self.viewer), "prev": self.prev, "next": self.next}


def _visible(room: Room, member: RoomMember) -> QuerySet[Message]:
    qs = Message.objects.filter(room=room).select_related("user")
    if not has_power(member, "see_deleted"):
        qs = qs.filter(is_deleted=False)  # moderators see that a message was removed
    return qs


def _older(qs, at: datetime, mid: uuid.UUID | None, limit: int, *, inclusive: bool = False) -> list[Message]:
    """Up to ``limit`` messages before (at, mid), newest first."""
    if mid is None:
        keyset = Q(created_at__lte=at)
    elif inclusive:
        keyset = Q(created_at__lt=at) | Q(created_at=at, id__lte=mid)
    else:
        keyset = Q(created_at__lt=at) | Q(created_at=at, id__lt=mid)
    base = qs.filter(keyset, created_at__lte=at).order_by("-created_at", "-id")
    rows = list(base.filter(created_at__gte=at - WINDOW)[:limit])
    if len(rows) < limit:
        # A quiet room: one more query for the rest, below the window.
        rows += list(base.filter(created_at__lt=at - WINDOW)[: limit - len(rows)])
    return rows


def _newer(qs, at: datetime, mid: uuid.UUID, limit: int) -> list[Message]:
    """Up to ``limit`` messages after (at, mid), oldest first."""
    keyset = Q(created_at__gt=at) | Q(created_at=at, id__gt=mid)
    base = qs.filter(keyset, created_at__gte=at).order_by("created_at", "id")
    rows = list(base.filter(created_at__lte=at + WINDOW)[:limit])
    if len(rows) < limit:
        rows += list(base.filter(created_at__gt=at + WINDOW)[: limit - len(rows)])
    return rows


def room_messages(*, user, room: Room, before: str | None = None, after: str | None = None,
                  around: str | None = None, limit: int = 50) -> Page:
    """One page of history, oldest first, with cursors to either side."""
    member = member_of(room, user)
    if member is None:
        raise PermissionDenied(_("You are not a member of this room."))
    if sum(x is not None for x in (before, after, around)) > 1:
        raise ValidationFailed(fields={"before": ["Use only one of before, after, around."]})
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(fields={"limit": [f"Between 1 and {MAX_LIMIT}."]})
    qs = _visible(room, member).filter(ROOM_VISIBLE)  # thread replies only when sent also_to_room

    if around is None:
        return keyset_page(qs, before=before, after=after, limit=limit, viewer=user)
    target = qs.filter(id=parse_uuid(around, "around")).first()
    if target is None:
        raise NotFound("No such message in this room.")
    n_older = limit // 2 + 1  # the target and the half before it
    n_newer = limit - n_older
    older = _older(qs, target.created_at, target.id, n_older + 1, inclusive=True)
    newer = _newer(qs, target.created_at, target.id, n_newer + 1)
    has_older, has_newer = len(older) > n_older, len(newer) > n_newer
    rows = list(reversed(older[:n_older])) + newer[:n_newer]
    return _page(rows, has_older, has_newer, user)


def keyset_page(qs, *, before: str | None, after: str | None, limit: int, viewer) -> Page:
    """A page of ``qs`` after a cursor, before one, or the newest, oldest
    first (a room's history, a thread's replies)."""
    if after is not None:
        at, mid = cursors.decode(after, field="after")
        rows = _newer(qs, at, mid, limit + 1)
        # has_older: there is at least the cursor's own message
        return _page(rows[:limit], True, len(rows) > limit, viewer)
    if before is not None:
        at, mid = cursors.decode(before, field="before")
        has_newer = True
    else:
        at, mid = timezone.now() + CLOCK_SKEW, None
        has_newer = False
    rows = _older(qs, at, mid, limit + 1)
    return _page(list(reversed(rows[:limit])), len(rows) > limit, has_newer, viewer)


def _page(rows: list[Message], has_older: bool, has_newer: bool, viewer) -> Page:
    prev = rows[0].cursor if rows and has_older else None
    nxt = rows[-1].cursor if rows and has_newer else None
    return Page(messages=rows, prev=prev, next=nxt, viewer=viewer)


def message_get(*, user, message_id) -> tuple[Message, RoomMember]:
    message = Message.objects.filter(id=parse_uuid(message_id, "message_id")).select_related("user", "room").first()
    if message is None:
        raise NotFound("No such message.")
    member = member_of(message.room, user)
    if member is None:
        raise NotFound("No such message.")  # never confirm a message exists to a non-member
    if message.is_deleted and not has_power(member, "see_deleted"):
        raise NotFound("No such message.")
    return message, member


def message_history(*, user, message_id) -> list[dict]:
    """Earlier versions of a message, oldest first."""
    message, _room = message_get(user=user, message_id=message_id)
    if message.is_deleted:
        return []
    return [
        {"content": e.content, "edited_at": isoformat_z(e.edited_at)}
        for e in MessageEdit.objects.filter(message_id=message.id).order_by("edited_at", "id")
    ]


def pinned_messages(*, user, room: Room) -> list[Message]:
    member = member_of(room, user)
    if member is None:
        raise PermissionDenied(_("You are not a member of this room."))
    return list(Message.objects.filter(room=room, is_pinned=True, is_deleted=False).select_related("user")
                .order_by("-created_at")[:50])


# --------------------------------------------------------------------------- attachments


def attachment_for_download(*, user, attachment_id) -> Attachment:
    """The attachment ``user`` may fetch: their own upload before it is
    linked, or a file of a message that is not deleted in a room they are a
    member of now. The one access rule for a file, used by the download page
    and the API alike; everything else (missing, not yours, a room you left
    or were kicked from, a deleted message) is the same NotFound, so no face
    confirms that a file exists."""
    item = (Attachment.objects.available().filter(id=parse_uuid(attachment_id, "attachment_id"))
            .select_related("room").first())
    if item is None or not getattr(user, "is_authenticated", False):
        raise NotFound("No such attachment.")
    if item.message_id is None:
        if item.uploader_id != user.id:
            raise NotFound("No such attachment.")
    elif item.room is None or member_of(item.room, user) is None:
        raise NotFound("No such attachment.")
    return item


# --------------------------------------------------------------------------- unread


def unread_counts(*, user) -> dict:
    """GET /unread: unread and mention counts per room and their total
    (chatroom.unread: one counting query for the rooms not cached in Redis),
    and over the followed threads (chatroom.thread_state)."""
    rooms = [{"room_id": str(r), "unread": b.unread, "mentions": b.mentions, "capped": b.capped}
             for r, b in unread.counts(user).items() if b.unread or b.mentions]
    rooms.sort(key=lambda r: (-r["mentions"], -r["unread"], r["room_id"]))
    return {"total": sum(r["unread"] for r in rooms), "capped": any(r["capped"] for r in rooms),
            "rooms": rooms, "threads": thread_state.totals(user)}


# --------------------------------------------------------------------------- search

SEARCH_MAX_LIMIT = 50
# Newest first in widening windows. A query shorter than three characters
# (common in Chinese and Korean) has no trigram to use an index with, so its
# cost is the rows of the window: small windows first keep that bounded.
SEARCH_WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=180), None)
HL_START, HL_STOP = "\x02", "\x03"
# Han, kana, Hangul: scripts written without spaces between words.
_CJK_RE = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
HIGHLIGHT_CHARS = 500


def _highlight(content: str, q: str, headline: str | None) -> str:
    """The message text, HTML-escaped, with <mark> around matches. Which words
    matched comes from PostgreSQL's ts_headline (so "run" marks "running");
    the query's own terms are marked too (substrings, e.g. Chinese). The
    marking is done on the original text, so nothing in it is lost or trusted."""
    terms = {t for t in q.split() if t}
    if headline:
        terms |= {w for w in re.findall(re.escape(HL_START) + r"(.*?)" + re.escape(HL_STOP), headline) if w}
    text = content[:HIGHLIGHT_CHARS]
    if not terms:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [html.escape(text[last:match.start()]), "<mark>", html.escape(match.group(0)), "</mark>"]
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def search_messages(*, user, q: str, room_id=None, user_id=None, since: datetime | None = None,
                    until: datetime | None = None, cursor: str | None = None, limit: int = 20) -> dict:
    """Messages the user may read (rooms they are a member of) matching ``q``:
    English full-text (GIN on to_tsvector('english', content)) or a substring
    (trigram GIN where pg_trgm exists, a plain scan otherwise). Newest first,
    keyset-paged."""
    q = (q or "").strip()
    if not q:
        raise ValidationFailed(fields={"q": ["Enter something to search for."]})
    if len(q) > 200:
        raise ValidationFailed(fields={"q": ["At most 200 characters."]})
    if not 1 <= limit <= SEARCH_MAX_LIMIT:
        raise ValidationFailed(fields={"limit": [f"Between 1 and {SEARCH_MAX_LIMIT}."]})
    # The readable rooms as a literal list: the planner then estimates the
    # match count from the text indexes instead of looping room by room.
    readable = list(RoomMember.objects.filter(user=user).values_list("room_id", flat=True))
    qs = Message.objects.filter(room_id__in=readable, is_deleted=False).exclude(message_type=Message.Type.SYSTEM)
    if room_id:
        qs = qs.filter(room_id=parse_uuid(room_id, "room_id"))
    if user_id:
        qs = qs.filter(user_id=parse_uuid(user_id, "user_id"))
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)

    query = SearchQuery(q, config="english", search_type="websearch")
    vector = SearchVector("content", config="english")
    # Same expression as idx_messages_content_search, so the GIN index serves it.
    # Or a substring, for Chinese and Korean (no word breaks) and partial
    # words: content ILIKE, which idx_messages_content_trgm serves.
    substring = Q(content__ilike=f"%{connection.ops.prep_for_like_query(q)}%")
    if _CJK_RE.search(q):
        # The English parser keeps a CJK run as one "word", so full-text
        # search never matches part of one; skip it (and its per-row cost).
        # Each space-separated term is a substring ("明天 开会" finds
        # "我们明天开会"), each served by the trigram index where there is one.
        for term in q.split():
            qs = qs.filter(content__ilike=f"%{connection.ops.prep_for_like_query(term)}%")
    else:
        qs = qs.annotate(_fts=vector).filter(Q(_fts=query) | substring)
    if cursor:
        at, mid = cursors.decode(cursor)
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=mid), created_at__lte=at)
    else:
        at = timezone.now() + CLOCK_SKEW
    # Newest first in widening windows (each prunes to its months), stopping
    # once the page is full: a common word costs a day's matches, not the
    # whole history's; a rare one costs at most len(SEARCH_WINDOWS) queries.
    qs = qs.select_related("user").order_by("-created_at", "-id")
    rows: list[Message] = []
    upper = None
    for window in SEARCH_WINDOWS:
        part = qs
        if upper is not None:
            part = part.filter(created_at__lt=upper)
        if window is not None:
            upper = at - window
            part = part.filter(created_at__gte=upper)
        rows += list(part[: limit + 1 - len(rows)])
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    headlines = _headlines(rows, q)
    results = [
        {"message": body, "highlight": _highlight(m.content, q, headlines.get(m.id))}
        for m, body in zip(rows, message_dicts(rows, user))
    ]
    return {"results": results, "next": rows[-1].cursor if more and rows else None}


def _headlines(rows: list[Message], q: str) -> dict:
    if not rows:
        return {}
    with connections[read_alias()].cursor() as cur:
        cur.execute(
            """
            SELECT m.id, ts_headline('english', m.content, websearch_to_tsquery('english', %s),
                   'StartSel=' || %s || ', StopSel=' || %s || ', HighlightAll=true')
            FROM unnest(%s::uuid[], %s::text[]) AS m(id, content)
            """,
            [q, HL_START, HL_STOP, [m.id for m in rows], [m.content for m in rows]],
        )
        return dict(cur.fetchall())


# --------------------------------------------------------------------------- live socket

ZERO_ID = uuid.UUID(int=0)

HEADS_SQL = """
SELECT r.id, h.created_at, h.id
FROM unnest(%s::uuid[]) AS r(id)
LEFT JOIN LATERAL (
    SELECT m.created_at, m.id FROM messages m WHERE m.room_id = r.id
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1
) h ON true
"""


def member_room_ids(*, user) -> list[str]:
    return [str(r) for r in RoomMember.objects.filter(user=user).values_list("room_id", flat=True)]


def socket_rooms(*, user) -> list[dict]:
    """The rooms a socket subscribes to at ``ready``: every room the user is a
    member of, with the cursor of its newest message (None when empty) —
    the point from which the socket delivers live messages."""
    rooms = list(Room.objects.filter(members__user=user).values("id", "name", "kind").order_by("name"))
    heads = room_heads([r["id"] for r in rooms])
    return [{"id": str(r["id"]), "name": r["name"], "kind": r["kind"], "cursor": heads.get(r["id"])} for r in rooms]


def room_heads(room_ids: list) -> dict:
    """{room_id: cursor of its newest message, or None}, in one query (an
    index probe per room)."""
    if not room_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(HEADS_SQL, [list(room_ids)])
        return {rid: (cursors.encode(at, mid) if at is not None else None) for rid, at, mid in cursor.fetchall()}


def messages_after(*, user, room_id, cursor: str | None, limit: int) -> tuple[list[dict], bool]:
    """Messages after ``cursor`` (from the room's start when None), oldest
    first, as api.md message objects, and whether more follow. For resume
    and for filling a gap the socket noticed."""
    room = room_get(user=user, room_id=room_id)
    member = member_of(room, user)
    if member is None:
        raise PermissionDenied(_("You are not a member of this room."))
    at, mid = cursors.decode(cursor) if cursor else (cursors.EPOCH, ZERO_ID)
    rows = _newer(_visible(room, member), at, mid, limit + 1)
    return message_dicts(rows[:limit]), len(rows) > limit
