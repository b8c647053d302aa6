"""The socket's guard against faults and abuse (realtime.consumers builds
on it): faults and bad input never end a socket by accident.

Every client frame is answered: its reply, or an ``error`` frame (``ref``
names the frame), however malformed it is. A database that stops answering
gives ``error {code: service_unavailable, retry_after}`` and the socket
stays; Django reconnects on the next frame. Redis (the channel layer and
presence) going away means live frames can no longer arrive, so the socket
says so with the same error and closes with 1013 (try again later); the
client reconnects and resumes from its cursors once Redis is back, from the
database, without loss. A client that is gone is never written to: its
pending frames are dropped and its disconnect runs (``_end``), so its
presence ends at once.

Abuse: a token bucket of WS_FRAME_RATE frames a second per socket, and
WS_ABUSE_STRIKES refused frames in a row close the socket with 4429."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import time

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from config.faults import DATABASE_ERRORS as DATABASE_DOWN
from config.faults import REDIS_ERRORS
from core.errors import ApplicationError, ServiceUnavailable, Throttled
from realtime import signals
from realtime.framing import error_frame
from realtime.languages import scope_language

logger = logging.getLogger(__name__)

# The channel layer's redis-py calls also surface a refused or vanished
# socket as a bare OSError; nothing else in a consumer raises one.
REDIS_DOWN = REDIS_ERRORS + (OSError,)

# Close codes from the contract.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
# RFC 6455's "try again later": Redis is down; reconnect, then resume.
CLOSE_TRY_AGAIN_LATER = 1013

# retry_after of service_unavailable: Django reconnects to the database on
# the next frame; a socket closed for Redis comes back through the client's
# reconnect, which backs off by itself.
DATABASE_RETRY_SECONDS = 2
REDIS_RETRY_SECONDS = 5


def database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(_("The database is not answering; try again shortly."), retry_after=DATABASE_RETRY_SECONDS)


def redis_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(_("Live delivery is down (Redis); reconnect and resume shortly."),
                              retry_after=REDIS_RETRY_SECONDS)


class GuardedSocket(AsyncWebsocketConsumer):
    """Subclasses define ``_end()``: everything a socket leaves behind, run
    once however it ended."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tokens, self.tokens_at, self.strikes = float(settings.WS_FRAME_RATE * 2), time.monotonic(), 0
        self.client_gone = False  # the client hung up: nothing more is written to it
        self.closing = False  # we sent a close: no frame is handled any more
        self.language = settings.LANGUAGE_CODE  # what error frames are written in

    async def _end(self) -> None:
        raise NotImplementedError

    async def __call__(self, scope, receive, send):
        async def send_unless_gone(message):
            # A client that hung up makes the server's send raise (uvicorn's
            # ClientDisconnected, an OSError). Raised here it would end the
            # consumer silently, before the disconnect event queued behind
            # it could run, leaving the socket's presence alive: a closed
            # tab's own "away" broadcast, relayed back to it as it closed,
            # did exactly that. So the frame is dropped, and the disconnect
            # runs next.
            if self.client_gone:
                return
            try:
                await send(message)
            except OSError:
                self.client_gone = True

        try:
            await self._serve(scope, receive, send_unless_gone)
        except REDIS_DOWN:
            if getattr(self, "channel_name", None) is not None:
                raise
            # Redis refused this socket's own channel (Channels makes it
            # before the handshake): answer the handshake, say why, close.
            if (await receive())["type"] == "websocket.connect":
                await send_unless_gone({"type": "websocket.accept"})
                await send_unless_gone({"type": "websocket.send",
                                        "text": json.dumps(error_frame(redis_unavailable(), None))})
                await send_unless_gone({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
        finally:
            await self._end()  # idempotent; also when the consumer ended by an exception

    async def _serve(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer.__call__, with a leaner loop: its
        await_many_dispatch makes a new task for every event and waits on
        both sources afresh each time, which was a sixth of a loaded
        server's event-loop time (py-spy, 1,000 sockets at 300 msg/s)."""
        self.scope = scope
        # The handshake's language until the user's is known (realtime.languages).
        self.language = scope_language(scope)
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        try:
            await dispatch_one_at_a_time(sources, self.dispatch)
        except StopConsumer:
            pass
        finally:
            forget = getattr(self.channel_layer, "forget_channel", None)
            if forget is not None:
                await forget(self.channel_name)

    async def dispatch(self, message):
        """As Channels' own, minus its close_old_connections() before every
        handler: that is a hop to the one shared sync thread per event, i.e.
        per message per socket. This consumer reaches the database only
        through ``db()`` (realtime.threads), which closes stale connections
        in its own thread.

        The socket's own events (websocket.*) handle their faults themselves;
        a channel-layer event (a relayed frame, a check) that meets one must
        not end the socket either."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if message["type"].startswith("websocket."):
            await handler(message)
            return
        if self.closing:
            return
        await self._guarded(handler(message), ref=None, answer=False)

    async def _guarded(self, work, *, ref: str | None, answer: bool) -> None:
        """Await ``work`` (a frame's or an event's handling); turn what it
        raises into an ``error`` frame (``answer``: a client frame, which is
        always answered) or a log line, never into the socket's end.
        Redis failing closes the socket (see the module docstring)."""
        try:
            await work
        except Throttled as exc:
            await self._refuse(exc, ref=ref)
        except ApplicationError as exc:
            if answer:
                await self.send_exception(exc, ref=ref)
        except DATABASE_DOWN as exc:
            logger.warning("socket: database unavailable: %s", exc)
            if answer:
                await self.send_exception(database_unavailable(), ref=ref)
        except REDIS_DOWN as exc:
            logger.warning("socket: Redis unavailable, closing: %s", exc)
            await self._close_for_redis(ref)
        except Exception:  # noqa: BLE001 - a bug; the socket and its other frames go on
            logger.exception("socket: handling %s failed", "a frame" if answer else "an event")
            if answer:
                await self.send_error("server_error", _("An unexpected error occurred."), ref=ref)

    async def _close_for_redis(self, ref: str | None = None) -> None:
        if self.closing:
            return
        await self.send_exception(redis_unavailable(), ref=ref)
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code, reason)

    def _take_token(self) -> bool:
        """A per-socket token bucket over all frames (WS_FRAME_RATE a second)."""
        now = time.monotonic()
        rate = settings.WS_FRAME_RATE
        self.tokens = min(rate * 2.0, self.tokens + (now - self.tokens_at) * rate)
        self.tokens_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _token_wait(self) -> float:
        """Seconds until the bucket holds a token again (hundredths, rounded up)."""
        return max(0.01, math.ceil((1 - self.tokens) / settings.WS_FRAME_RATE * 100) / 100)

    async def _refuse(self, exc: Throttled, ref=None) -> None:
        """A rate-limited frame gets an error with ``retry_after``;
        WS_ABUSE_STRIKES in a row close the socket with 4429."""
        self.strikes += 1
        if self.strikes >= settings.WS_ABUSE_STRIKES:
            await self.send_exception(Throttled(_("Too many refused frames; closing."), retry_after=exc.retry_after),
                                      ref=ref)
            await self.close(code=CLOSE_TOO_MANY)
            return
        await self.send_exception(exc, ref=ref)

    def _background(self, work) -> asyncio.Task:
        """A timer's task, its faults handled as an event's."""
        return asyncio.create_task(self._guarded(work, ref=None, answer=False))

    async def send_frame(self, frame: dict) -> None:
        signals.frame_sent.send(sender=type(self), frame_type=frame.get("type", ""))
        await self.send(text_data=json.dumps(frame, default=str))

    async def send_error(self, code: str, message: str, ref: str | None = None, fields: dict | None = None) -> None:
        await self.send_exception(ApplicationError(message, code=code, fields=fields), ref=ref)

    async def send_exception(self, exc: ApplicationError, ref: str | None = None) -> None:
        """An ``error`` frame, its message (and fields) in the socket's
        language; the code stays English."""
        with translation.override(self.language):
            text = json.dumps(error_frame(exc, ref), default=str)
        signals.frame_sent.send(sender=type(self), frame_type="error")
        await self.send(text_data=text)


async def dispatch_one_at_a_time(sources, dispatch) -> None:
    """Await messages from every source (coroutine functions: the client's
    receive, the channel layer's) and dispatch them one at a time, as
    Channels' await_many_dispatch does, until a dispatch raises (a
    disconnect raises StopConsumer) or a source does. One long-lived task
    per source, each holding at most one message while another is being
    dispatched, so the channel layer's bounded queue still sets the pace."""
    turn = asyncio.Lock()
    stopped = False

    async def pump(source):
        nonlocal stopped
        while True:
            message = await source()
            async with turn:
                if stopped:
                    return
                try:
                    await dispatch(message)
                except BaseException:
                    stopped = True  # nothing is dispatched after the one that ended the consumer
                    raise

    tasks = [asyncio.ensure_future(pump(source)) for source in sources]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
