"""What the web client's chat shell reads for one user: the sidebar's
channels and DMs with their unread and mention counts and the DMs' people
(with presence), and the home dashboard's recent mentions. Reads only,
scoped to the user's own rooms; the page's socket (static/js/sidebar.js)
keeps the counts live afterwards."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from chatroom import selectors, thread_state, unread
from chatroom.models import ROOM_VISIBLE, Mention, Message, RoomMember
from realtime import presence

RECENT_MENTIONS = 5


def with_people(user, rooms):
    """Each DM among ``rooms`` with ``people`` (the others, each with
    ``status``, their presence) and ``title`` (their names)."""
    people = selectors.dm_participants(user=user, rooms=rooms)
    statuses = presence.status_of({u.id for found in people.values() for u in found})
    for room in rooms:
        if not room.is_dm:
            continue
        room.people = people.get(room.id, [])
        for person in room.people:
            person.status = statuses.get(str(person.id), presence.OFFLINE)
        room.title = pgettext("list separator", ", ").join(p.username for p in room.people) or _("Only you")
    return rooms


def sidebar(user) -> dict:
    """{channels, dms, total, threads}: the user's rooms by name and DMs
    latest first, each with ``unread`` and ``mentions``; ``total`` is the
    unread sum (the tab title's count), ``threads`` the followed threads'
    {unread, mentions}."""
    counts = unread.counts(user)
    rooms = list(selectors.rooms_list(user=user, scope="mine").order_by("-updated_at", "name"))
    for room in rooms:
        room.unread, room.mentions, room.capped = counts.get(room.id, (0, 0, False))
    channels = sorted((r for r in rooms if not r.is_dm), key=lambda r: r.name)
    dms = with_people(user, [r for r in rooms if r.is_dm])
    return {"channels": channels, "dms": dms, "total": sum(r.unread for r in rooms),
            "threads": thread_state.totals(user)}


def recent_mentions(user, limit: int = RECENT_MENTIONS) -> list[Message]:
    """The newest messages that mention the user, in rooms they are still a
    member of, not deleted, newest first (each with ``room``)."""
    mine = RoomMember.objects.filter(user=user).values("room_id")
    ids = (Mention.objects.filter(user=user, room_id__in=mine).order_by("-message_created_at")
           .values_list("message_id", flat=True)[: limit * 2])
    found = (Message.objects.filter(ROOM_VISIBLE, id__in=list(ids), is_deleted=False)
             .select_related("room", "user").order_by("-created_at")[:limit])
    return list(found)
