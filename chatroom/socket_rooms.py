"""The chat rooms as the socket's delivery and presence read them
(realtime.registry.Rooms, registered by ChatroomConfig.ready): realtime sits
below chatroom and reaches rooms only through this."""

from __future__ import annotations

from accounts import dnd
from chatroom import cursors, selectors, thread_state, unread
from chatroom.models import RoomMember
from chatroom.presenters import user_dict
from realtime import registry


def ready_rooms(*, user) -> list[dict]:
    """``ready``'s rooms: selectors.socket_rooms, each with its ``unread``
    and ``mentions`` counts (``capped`` when there are more unread than
    UNREAD_COUNT_CAP)."""
    rooms = selectors.socket_rooms(user=user)
    counts = {str(room_id): badge for room_id, badge in unread.counts(user).items()}
    for room in rooms:
        room["unread"], room["mentions"], room["capped"] = counts.get(room["id"], (0, 0, False))
    # ready's user is presented on the event loop, where no query may run:
    # the user's do-not-disturb state is read here, in the worker thread.
    user.dnd_state = dnd.state_of(user)
    return rooms


def ready_extra(user) -> dict:
    """``ready``'s ``threads``: unread replies and mentions over the threads
    the user follows, as GET /unread's."""
    return {"threads": thread_state.totals(user)}


def present_user(user) -> dict:
    """``ready``'s user, with ``dnd`` (accounts.dnd.dnd_state) for the
    page's notifier: no desktop notifications while ``dnd.active``."""
    return {**user_dict(user), "dnd": getattr(user, "dnd_state", None)}


def user_room_ids(user_id) -> list[str]:
    """The rooms whose members see the user's presence."""
    return [str(r) for r in RoomMember.objects.filter(user_id=user_id).values_list("room_id", flat=True)]


def register() -> None:
    registry.register_rooms(registry.Rooms(
        member_room_ids=selectors.member_room_ids,
        ready_rooms=ready_rooms,
        heads=selectors.room_heads,
        messages_after=selectors.messages_after,
        cursor_key=cursors.decode,
        user_room_ids=user_room_ids,
        present_user=present_user,
        ready_extra=ready_extra,
    ))
