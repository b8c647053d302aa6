"""Reactions on messages."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom.models import Message, Reaction
from chatroom.presenters import reactions_for
from chatroom.services._common import _audit, _message_in_reach, _require_power
from core.errors import NotFound, ValidationFailed
from realtime import broadcast as realtime

EMOJI_MAX = 32


def _validate_emoji(emoji: str) -> str:
    if not isinstance(emoji, str) or not emoji.strip() or len(emoji) > EMOJI_MAX or any(c.isspace() for c in emoji):
        raise ValidationFailed(fields={"emoji": [gettext("One emoji (or a name) of at most %(limit)s characters.")
                % {"limit": EMOJI_MAX}]})
    return emoji


def _reactable(actor: User, message_id) -> Message:
    message, member = _message_in_reach(actor, message_id)
    _require_power(member, "react", _("You may not react in this room."))
    if message.is_deleted:
        raise NotFound(_("No such message."))
    return message


def _broadcast_reactions(message: Message) -> None:
    reactions = [{"emoji": r["emoji"], "count": r["count"]} for r in reactions_for([message.id]).get(message.id, [])]
    realtime.room_event(message.room_id, {"type": "reaction.updated", "room_id": str(message.room_id),
                                          "message_id": str(message.id), "reactions": reactions})


@transaction.atomic
def reaction_add(*, actor: User, message_id, emoji: str) -> Message:
    emoji = _validate_emoji(emoji)
    message = _reactable(actor, message_id)
    _reaction, created = Reaction.objects.get_or_create(message=message, user=actor, emoji=emoji,
                                                defaults={"message_created_at": message.created_at})
    if created:
        _audit("reaction.added", actor=actor, room=message.room, resource_type="message", resource_id=message.id,
               details={"emoji": emoji})
        _broadcast_reactions(message)
    return message


@transaction.atomic
def reaction_remove(*, actor: User, message_id, emoji: str) -> Message:
    message = _reactable(actor, message_id)
    deleted, _count = Reaction.objects.filter(message_id=message.id, user=actor, emoji=emoji).delete()
    if deleted:
        _audit("reaction.removed", actor=actor, room=message.room, resource_type="message", resource_id=message.id,
               details={"emoji": emoji})
        _broadcast_reactions(message)
    return message
