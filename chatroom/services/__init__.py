"""Every write to chat goes through here (the page, the API, the socket and the
admin all call these), one module per use case:

- ``rooms``: create, settings, delete, ownership;
- ``membership``: join, leave, add, kick, member changes, join requests;
- ``invites``: invite links and personal invites;
- ``message_send``: posting every kind of message;
- ``message_edit``: edit, delete, pin;
- ``dms``: opening DMs and group DMs, blocks, the legal-hold export;
- ``threads``: following a thread and reading it (replies are posted by
  ``message_send``);
- ``reactions``, ``read_state``, ``uploads``.

Each service runs in one transaction, checks the actor's room powers
(chatroom.permissions), writes one audit entry for the change, and schedules
its broadcast for after commit (realtime.broadcast). The names below are
re-exported so callers keep importing ``chatroom.services``."""

from chatroom.services.dms import block_add, block_remove, dm_legal_hold_export, dm_open
from chatroom.services.invites import (
    INVITE_DEFAULT_MAX_AGE,
    invite_create,
    invite_revoke,
    invite_user,
)
from chatroom.services.membership import (
    invite_accept,
    join_request_decide,
    member_add,
    member_kick,
    member_update,
    room_join,
    room_leave,
)
from chatroom.services.message_edit import message_delete, message_edit, message_pin
from chatroom.services.message_send import CLIENT_ID_MAX, message_post
from chatroom.services.reactions import EMOJI_MAX, reaction_add, reaction_remove
from chatroom.services.read_state import read_mark
from chatroom.services.threads import thread_follow, thread_read_mark, thread_unfollow
from chatroom.services.rooms import (
    room_create,
    room_delete,
    room_transfer_ownership,
    room_update,
)
from chatroom.services.uploads import attachment_delete, attachment_upload

__all__ = [
    "CLIENT_ID_MAX", "EMOJI_MAX", "INVITE_DEFAULT_MAX_AGE",
    "attachment_delete", "attachment_upload", "block_add", "block_remove", "dm_legal_hold_export", "dm_open",
    "invite_accept", "invite_create", "invite_revoke", "invite_user",
    "join_request_decide", "member_add", "member_kick", "member_update",
    "message_delete", "message_edit", "message_pin", "message_post",
    "reaction_add", "reaction_remove", "read_mark",
    "room_create", "room_delete", "room_join", "room_leave", "room_transfer_ownership", "room_update",
    "thread_follow", "thread_read_mark", "thread_unfollow",
]
