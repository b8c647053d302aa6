"""Broadcasting: the group names, and sending frames to them on commit
(architecture.md: the realtime app is the only code that touches the
channel layer).

Services call ``room_event``/``user_event``/``broadcast`` inside their
transaction; frames go out only after commit (``transaction.on_commit``), so a
client never sees something that rolled back, and one that reconnects catches
up from the database by its cursor. Frames use api.md's shapes; the socket
consumer (realtime.consumers) relays ``event["frame"]`` to the client and
reads the routing facts beside it:

- ``room``: the room a frame belongs to, so a socket that has just left the
  room drops frames that were already queued for it;
- ``prev``: on ``message.new``, the cursor of the room's previous message, so
  a socket notices a message it never got (a full channel, an expired one)
  and fetches the gap from the database instead of skipping it;
- ``sender``: on ``typing``, so the typist's own sockets never echo it;
- ``subject``: on ``member.joined``/``member.left``, the user who joined or
  left, so that user's own sockets subscribe or unsubscribe;
- ``localize``: the frame holds text stored as a code (a system message,
  core.coded_texts): each socket relays it rendered in its user's language
  (realtime.languages), once per event and language in a process.

The frame itself travels already encoded as JSON (``text``): the consumer
routes on the facts above and relays the text unchanged, so a frame fanned
out to a thousand sockets is encoded once, not once per socket.

Every group name comes from a function here."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import time
import uuid

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPE = "client.frame"  # -> consumer method client_frame(self, event)

# Frames the consumer acts on itself and never relays.
SESSION_END = "session.end"


def room_group(room_id: uuid.UUID | str) -> str:
    """Every socket subscribed to a room joins this group."""
    return f"room.{room_id}"


def user_group(user_id: uuid.UUID | str) -> str:
    """All of one user's sockets (their notifications, their jobs, rooms they leave)."""
    return f"user.{user_id}"


def login_group(*, device_session_id=None, session_key: str | None = None) -> str:
    """The sockets opened with one login: a device session's token (mobile
    clients), or a browser's session cookie."""
    return f"login.token.{device_session_id}" if device_session_id is not None else f"login.web.{session_key}"


def job_group(job_id: uuid.UUID | str) -> str:
    """Sockets that sent ``job.subscribe`` for one job."""
    return f"job.{job_id}"


def _event(frame: dict, meta: dict) -> dict:
    # ``at``: when it was sent, so a socket can tell it is falling behind.
    return {"type": EVENT_TYPE, "kind": frame["type"], "text": json.dumps(frame, default=str), "at": time.time(),
            **meta}


def frame_of(event: dict) -> dict:
    """The client frame an event carries (for tests and tools)."""
    return json.loads(event["text"])


SEND_TIMEOUT_SECONDS = 5.0
SEND_BACKLOG_MAX = 10_000


class _LayerLoop:
    """One event loop per process, on a thread of its own, that sends what
    synchronous code (services after commit, Celery workers, commands)
    broadcasts. asgiref's async_to_sync would start a new loop per call
    outside a server, and with it a new Redis connection (several ms per
    broadcast; a job's progress broadcasts every second); this loop keeps its
    connection.

    Callers hand a send over and go on: waiting for it held a web server's
    frame thread for a third of each post (measured with py-spy at 200
    msg/s), and those threads were what ran out. One task on the loop sends
    them one after another, so this process's frames leave in the order they
    were broadcast. At most SEND_BACKLOG_MAX wait; past that a caller waits
    up to SEND_TIMEOUT_SECONDS for room, then the frame is dropped and logged
    (the write committed; clients catch up from the database by cursor)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():  # new, or inherited through fork
                self.loop, self.pid = asyncio.new_event_loop(), os.getpid()
                self.slots = threading.BoundedSemaphore(SEND_BACKLOG_MAX)
                self.queue: asyncio.Queue = asyncio.Queue()
                self.loop.call_soon_threadsafe(self.loop.create_task, self._drain(self.queue, self.slots))
                threading.Thread(target=self.loop.run_forever, name="channel-layer-loop", daemon=True).start()
            return self.loop

    async def _drain(self, queue: asyncio.Queue, slots: threading.BoundedSemaphore) -> None:
        while True:
            send = await queue.get()
            try:
                await asyncio.wait_for(send(), SEND_TIMEOUT_SECONDS)
            except Exception:  # noqa: BLE001 - the write committed; clients catch up from the database
                logger.exception("a broadcast failed")
            finally:
                slots.release()
                queue.task_done()

    def submit(self, send) -> None:
        """Queue ``send`` (a coroutine function) to run on the loop, in order."""
        loop = self.get()
        if not self.slots.acquire(timeout=SEND_TIMEOUT_SECONDS):
            logger.error("broadcast backlog full (%d waiting for Redis); a frame was dropped, clients catch "
                         "up from the database", SEND_BACKLOG_MAX)
            return
        loop.call_soon_threadsafe(self.queue.put_nowait, send)

    def flush(self, timeout: float = SEND_TIMEOUT_SECONDS) -> bool:
        """Wait until everything handed over so far has been sent (or has
        failed); False if that took longer than ``timeout``."""
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                return True
            loop, queue = self.loop, self.queue
        try:
            asyncio.run_coroutine_threadsafe(queue.join(), loop).result(timeout)
        except TimeoutError:
            return False
        return True


_layer_loop = _LayerLoop()
# A command or a test process that broadcasts and exits sends what it queued.
atexit.register(_layer_loop.flush)


def flush_broadcasts(timeout: float = SEND_TIMEOUT_SECONDS) -> bool:
    """Wait until this process's broadcasts so far have left (tests, tools)."""
    return _layer_loop.flush(timeout)


def _send(groups: list[str], frame: dict, meta: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = _event(frame, meta)

    async def send_all():
        for group in groups:
            try:
                await layer.group_send(group, event)
            except Exception:  # noqa: BLE001 - the write committed; clients catch up from the database
                logger.exception("broadcast to %s failed", group)

    _layer_loop.submit(send_all)


def broadcast(groups: list[str], frame: dict, **meta) -> None:
    """Send ``frame`` to ``groups`` once the current transaction commits
    (at once when there is no transaction)."""
    transaction.on_commit(lambda: _send(groups, frame, meta))


async def send_now(groups: list[str], frame: dict, **meta) -> None:
    """From the socket itself, for state that is never stored (typing)."""
    layer = get_channel_layer()
    event = _event(frame, meta)
    for group in groups:
        await layer.group_send(group, event)


def room_event(room_id, frame: dict, **meta) -> None:
    broadcast([room_group(room_id)], frame, room=str(room_id), **meta)


def user_event(user_id, frame: dict, **meta) -> None:
    broadcast([user_group(user_id)], frame, **meta)


def message_new(message_frame: dict, *, prev_cursor: str | None, localize: bool = False) -> None:
    """``message.new`` with the room's previous cursor beside it (see above);
    ``localize``: its text is rendered again in each socket's language."""
    room_id = message_frame["room_id"]
    meta = {"localize": True} if localize else {}
    room_event(room_id, {"type": "message.new", "message": message_frame}, prev=prev_cursor,
               cursor=message_frame["cursor"], **meta)


def end_user_sockets(user_id) -> None:
    """Close every open socket of a user (banned or deactivated) after commit."""
    user_event(user_id, {"type": SESSION_END})


def end_login_sockets(groups: list[str]) -> None:
    """Close the sockets opened with these logins (login_group), revoked, after commit."""
    if groups:
        broadcast(groups, {"type": SESSION_END})


# Socket channels join and leave groups only through these, so group names
# stay in this module.
async def join(channel_name: str, groups: list[str]) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_add(group, channel_name)


async def leave(channel_name: str, groups: list[str]) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_discard(group, channel_name)
