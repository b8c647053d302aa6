"""What the apps above realtime plug into the socket and presence.

realtime sits at the bottom of the layers (architecture.md): it never imports
accounts, chatroom or jobs. Each of them registers here, in its
``AppConfig.ready()``, what the socket needs from it:

- frame handlers: a client frame ``type`` -> the function that answers it
  (chatroom the chat frames, jobs ``job.subscribe``);
- the rooms (chatroom): which rooms a user's sockets subscribe to, their
  newest cursors, the messages after a cursor, and the cursors' order. The
  delivery protocol (realtime.delivery) and presence read rooms only
  through it;
- logins (accounts): a device session token's user, and whether a login was
  revoked;
- online time (accounts): told when a user's presence session starts and
  ends;
- languages (issue 19): a user's language (their profile's), and, per frame
  type, how a frame holding coded texts is rendered in the active language
  (chatroom's system messages; realtime.languages).

A handler runs in a worker thread (it does database work) with the socket's
user and the decoded frame, and returns what the socket does next: nothing
(None), a frame to send back (a dict), ``Subscribe`` or ``Typing``. It
raises the ApplicationError hierarchy for anything it refuses; the socket
answers that with an ``error`` frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Subscribe:
    """A handler's answer that also subscribes the socket to ``groups``
    (realtime.broadcast names) before ``frame`` is sent, so nothing sent to
    them after the frame's state was read is missed."""

    groups: list[str]
    frame: dict


@dataclass(frozen=True)
class Typing:
    """A handler's answer to ``typing``: the user (as frames show users)
    starts or stops typing in a room they were checked to be a member of.
    The socket relays it (realtime.typing_relay)."""

    room_id: str
    state: str  # "start" | "stop"
    user: dict


@dataclass(frozen=True)
class FrameHandler:
    handle: Callable[[Any, dict], Any]
    # A write the services accepted ends a run of refused frames
    # (WS_ABUSE_STRIKES counts refusals in a row); a typing or subscribe
    # frame, which any client may send at will, does not.
    write: bool = False


# Frame types the socket answers itself (realtime.consumers).
BUILT_IN = frozenset({"auth", "ping", "presence", "resume"})

_frames: dict[str, FrameHandler] = {}


def register_frame(frame_type: str, handle: Callable[[Any, dict], Any], *, write: bool = False) -> None:
    entry = FrameHandler(handle, write)
    if frame_type in BUILT_IN or _frames.get(frame_type, entry) != entry:
        raise ImproperlyConfigured(f"The socket frame {frame_type!r} has a handler already.")
    _frames[frame_type] = entry


def frame_handler(frame_type: str) -> FrameHandler | None:
    return _frames.get(frame_type)


def _none(*args, **kwargs):
    return None


@dataclass(frozen=True)
class Rooms:
    """The rooms a socket delivers (registered by chatroom). Every function
    runs in a worker thread.

    - ``member_room_ids(user)``: the ids of the rooms the user is in;
    - ``ready_rooms(user)``: ``ready``'s room list, each a dict with at
      least ``id`` and ``cursor`` (its newest message, or None);
    - ``heads(room_ids)``: {room id: newest cursor or None};
    - ``messages_after(user, room_id, cursor, limit)``: (message dicts
      oldest first, each with a ``cursor``; whether more follow), raising
      an ApplicationError when the user may not read the room;
    - ``cursor_key(cursor)``: its sort key, a tuple whose first item is the
      message's time (an aware datetime), raising ValidationFailed for text
      that is not a cursor;
    - ``user_room_ids(user_id)``: the rooms presence tells about a user;
    - ``present_user(user)``: a user as frames show one (``ready``'s
      ``user``);
    - ``ready_extra(user)``: more fields of ``ready`` (chatroom's
      ``threads`` totals)."""

    member_room_ids: Callable[..., list[str]] = lambda user: []
    ready_rooms: Callable[..., list[dict]] = lambda user: []
    heads: Callable[[list], dict] = lambda room_ids: {}
    messages_after: Callable[..., tuple[list[dict], bool]] = lambda user, room_id, cursor, limit: ([], False)
    cursor_key: Callable[[str], tuple] = lambda cursor: (cursor,)
    user_room_ids: Callable[[Any], list[str]] = lambda user_id: []
    present_user: Callable[[Any], dict] = lambda user: {"id": str(user.pk)}
    ready_extra: Callable[[Any], dict] = lambda user: {}


@dataclass(frozen=True)
class Logins:
    """How sockets authenticate beyond the session cookie (registered by
    accounts, which owns device sessions; realtime is below it).

    - ``user_for_token(token)``: (user, login) for a live device session
      token whose user may log in, else None; ``login.pk`` names the device
      session (realtime.broadcast.login_group);
    - ``login_alive(device_session_id=..., session_key=...)``: whether that
      login was neither revoked nor expired."""

    user_for_token: Callable[[str], tuple | None] = _none
    login_alive: Callable[..., bool] = lambda **login: True


@dataclass(frozen=True)
class OnlineTime:
    """Told when a user's presence session starts and ends (registered by
    accounts, which keeps online time per day). Times are Unix seconds."""

    session_started: Callable[[Any, float], None] = _none
    session_ended: Callable[[Any, float, float], None] = _none


class _Slot:
    """One registered provider, set once (by its app's ready()). Reading one
    nothing registered raises, as core.hooks does: a default that silently
    says "no rooms" or "the login is alive" would fail open."""

    def __init__(self, kind: str, provider: str):
        self.kind, self.provider, self.value = kind, provider, None

    def set(self, value) -> None:
        if self.value is not None and self.value != value:
            raise ImproperlyConfigured(f"{type(value).__name__} is registered already.")
        self.value = value

    def get(self):
        if self.value is None:
            raise ImproperlyConfigured(f"Nothing provides the socket's {self.kind}: the {self.provider} app "
                                       "registers them in its AppConfig.ready() (is it in INSTALLED_APPS?)")
        return self.value


_rooms = _Slot("rooms", "chatroom")
_logins = _Slot("logins", "accounts")
_online_time = _Slot("online time", "accounts")


def register_rooms(rooms: Rooms) -> None:
    _rooms.set(rooms)


def rooms() -> Rooms:
    return _rooms.get()


def register_logins(logins: Logins) -> None:
    _logins.set(logins)


def logins() -> Logins:
    return _logins.get()


# ---------------------------------------------------------------- languages

_localizers: dict[str, Callable[[dict], dict]] = {}
_language_of: list[Callable[[Any], str | None]] = []


def register_localizer(frame_type: str, localize: Callable[[dict], dict]) -> None:
    """``localize(frame)``: the frame with its coded texts rendered in the
    active language (a pure function: no queries; it runs on the event
    loop). Used for events broadcast with ``localize``."""
    if _localizers.get(frame_type, localize) != localize:
        raise ImproperlyConfigured(f"The socket frame {frame_type!r} has a localizer already.")
    _localizers[frame_type] = localize


def localizer(frame_type: str) -> Callable[[dict], dict] | None:
    return _localizers.get(frame_type)


def register_language_of(language_of: Callable[[Any], str | None]) -> None:
    """``language_of(user)``: the user's language code, or None (run in a
    worker thread: it may query)."""
    _language_of[:] = [language_of]


def language_of(user) -> str | None:
    """The user's language, or None when nothing registered says."""
    return _language_of[0](user) if _language_of else None


def register_online_time(online_time: OnlineTime) -> None:
    _online_time.set(online_time)


def online_time() -> OnlineTime:
    return _online_time.get()
