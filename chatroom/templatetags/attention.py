"""The room page's attention bits (issue 18), as template tags so the room
view needs no change: ``{% load attention %}``, then ``{% send_later room %}``
in the composer, ``{% read_receipts room %}`` once on the page, and
``dnd_people`` for the DM composer's do-not-disturb warning."""

from __future__ import annotations

from datetime import datetime

from django import template

from accounts import dnd
from chatroom import receipts
from chatroom.models import Room

register = template.Library()


def _zone_name(user) -> str:
    return getattr(getattr(user, "profile", None), "timezone", None) or "UTC"


@register.inclusion_tag("chatroom/_send_later.html", takes_context=True)
def send_later(context, room: Room) -> dict:
    return {"room": room, "timezone": _zone_name(context["request"].user)}


@register.inclusion_tag("chatroom/_receipts.html", takes_context=True)
def read_receipts(context, room: Room) -> dict:
    user = context["request"].user
    return {"receipts_config": {
        "roomId": str(room.id), "userId": str(user.id), "username": user.username, "kind": room.kind,
        "enabled": receipts.receipts_on(room),
        "cursors": receipts.room_read_cursors(user=user, room=room),
    }}


@register.simple_tag
def dnd_people(people) -> list:
    """The people (users) among ``people`` in DND now, each with ``dnd_ends``."""
    people = list(people or ())
    if not people:
        return []
    resting = dnd.in_dnd([p.id for p in people])
    out = []
    for person in people:
        if person.id in resting:
            ends = dnd.state_of(person)["ends_at"]
            person.dnd_ends = datetime.fromisoformat(ends.replace("Z", "+00:00")) if ends else None
            out.append(person)
    return out
