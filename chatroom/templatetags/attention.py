"""The room page's send-later menu and read receipts, as template tags so
the room view needs no change: ``{% load attention %}``, then
``{% send_later room %}`` in the composer and ``{% read_receipts room %}``
once on the page."""

from __future__ import annotations

from django import template

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
