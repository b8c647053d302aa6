"""Changing a posted message: editing its text, deleting it (softly), pinning it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom import unread
from chatroom.models import Attachment, Mention, Message, MessageEdit
from chatroom.presenters import message_dicts
from chatroom.services import group_mentions, threads
from chatroom.services._common import (
    _acting_member,
    _audit,
    _message_in_reach,
    _require_power,
)
from chatroom.services.message_send import _validate_content, mentioned_names, mentioned_user_ids
from core.errors import NotFound, PermissionDenied, ValidationFailed
from realtime import broadcast as realtime


def _message_for_staff(message_id) -> Message:
    try:
        return Message.objects.select_for_update(of=("self",)).select_related("room").get(id=message_id)
    except (Message.DoesNotExist, ValueError, ValidationFailed):
        raise NotFound(_("No such message.")) from None


@transaction.atomic
def message_edit(*, actor: User, message_id, content: str) -> Message:
    message, member = _message_in_reach(actor, message_id, lock=True)
    if message.user_id != actor.id or message.message_type in (Message.Type.SYSTEM, Message.Type.BOT):
        raise PermissionDenied(_("You can only edit your own messages."))
    _require_power(member, "edit_own", _("You may not edit messages in this room."))
    if message.is_deleted:
        raise NotFound(_("No such message."))
    content = _validate_content(content, allow_empty=Attachment.objects.filter(message_id=message.id).exists())
    if content == message.content:
        return message
    now = timezone.now()
    MessageEdit.objects.create(message=message, message_created_at=message.created_at, content=message.content,
                               edited_at=message.edited_at or message.created_at, edited_by=actor)
    message.content = content
    message.is_edited = True
    message.edited_at = now
    message.save(update_fields=["content", "is_edited", "edited_at", "updated_at"])
    # Group mentions are judged again (an edit cannot add an @all the author
    # may not send), and stored again without notifying anyone a second time.
    groups = group_mentions.resolve(room_id=message.room_id, actor=actor, names=mentioned_names(content))
    named = mentioned_user_ids(room_id=message.room_id, author_id=message.user_id, content=content)
    Mention.objects.filter(message_id=message.id).delete()
    Mention.objects.bulk_create(
        [Mention(message=message, message_created_at=message.created_at, room_id=message.room_id, user_id=user_id)
         for user_id in named],
        ignore_conflicts=True,
    )
    if groups:
        group_mentions.store(message=message, author_id=message.user_id, groups=groups, named=named)
    unread.room_changed(message.room_id)  # mentions may have changed
    _audit("message.edited", actor=actor, room=message.room, resource_type="message", resource_id=message.id)
    realtime.room_event(message.room_id, {"type": "message.updated", "message": message_dicts([message])[0]})
    return message


@transaction.atomic
def message_delete(*, actor: User, message_id, staff_override: bool = False) -> Message:
    """Soft delete: the row stays (for moderation and the audit trail) but
    every face hides its text, files and reactions. ``staff_override`` (the
    admin's action) lets site staff moderate rooms they are not members of."""
    if staff_override:
        message = _message_for_staff(message_id)
        member = _acting_member(message.room, actor, staff_override=True)
    else:
        message, member = _message_in_reach(actor, message_id, lock=True)
    if message.is_deleted:
        return message
    if not staff_override:
        if message.user_id == actor.id and message.message_type != Message.Type.SYSTEM:
            _require_power(member, "delete_own", _("You may not delete messages in this room."))
        else:
            _require_power(member, "delete_any", _("Only moderators and above delete others' messages."))
    message.is_deleted = True
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.is_pinned = False
    message.save(update_fields=["is_deleted", "deleted_at", "deleted_by", "is_pinned", "updated_at"])
    unread.room_changed(message.room_id)
    if message.thread_id is not None:
        threads.reply_removed(message)
    _audit("message.deleted", actor=actor, room=message.room, resource_type="message", resource_id=message.id,
           details={"author_id": str(message.user_id), "via": "staff" if staff_override else "room"})
    realtime.room_event(message.room_id, {"type": "message.deleted", "room_id": str(message.room_id),
                                          "message_id": str(message.id)})
    return message


@transaction.atomic
def message_pin(*, actor: User, message_id, pinned: bool = True) -> Message:
    message, member = _message_in_reach(actor, message_id, lock=True)
    _require_power(member, "pin", _("Only moderators and above pin messages."))
    if message.is_deleted:
        raise NotFound(_("No such message."))
    if message.is_pinned == pinned:
        return message
    message.is_pinned = pinned
    message.pinned_at = timezone.now() if pinned else None
    message.save(update_fields=["is_pinned", "pinned_at", "updated_at"])
    _audit("message.pinned" if pinned else "message.unpinned", actor=actor, room=message.room,
           resource_type="message", resource_id=message.id)
    # A pinned system message is rendered in each socket's language (realtime.languages).
    localize = {"localize": True} if message.message_type == Message.Type.SYSTEM else {}
    realtime.room_event(message.room_id, {"type": "message.updated", "message": message_dicts([message])[0]},
                        **localize)
    return message
