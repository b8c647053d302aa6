"""Hostile and malformed frames against a real uvicorn process with a real
WebSocket client: each gets an ``error`` frame, the socket stays open (a
ping still gets its pong), nothing is stored, and the server logs no
traceback. Before authentication, anything but a valid auth frame closes
the socket cleanly with 4401, never 1006."""

import asyncio
import json
import uuid

import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from chatroom.models import Message
from chatroom.services import message_post, room_create
from tests.browser import session_for
from tests.processes import asgi_servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

DEEP = 1_000


def catalogue(room_id: str, message_id: str) -> list[tuple[str, object, str | None]]:
    """(name, frame, the ref its error must carry or None). A frame is raw
    text (str) or a binary frame (bytes)."""
    other = str(uuid.uuid4())

    def send(client_id, **fields):
        return json.dumps({"type": "message.send", "room_id": room_id, "content": "x", "client_id": client_id,
                           **fields})

    return [
        # Not JSON, or not an object with a string type.
        ("not json", "{not json", None),
        ("empty text", "", None),
        ("only spaces", "   ", None),
        ("null", "null", None),
        ("a number", "1", None),
        ("a string", '"ping"', None),
        ("an array", '["ping"]', None),
        ("no type", "{}", None),
        ("type is a number", '{"type": 5}', None),
        ("type is null", '{"type": null}', None),
        ("type is an array", '{"type": ["ping"]}', None),
        ("type is an object", '{"type": {"type": "ping"}}', None),
        ("unknown type", '{"type": "no.such.frame"}', "no.such.frame"),
        ("a very long unknown type", json.dumps({"type": "t" * 20_000}), None),
        ("binary garbage", b"\x00\xff\xfe", None),
        ("binary JSON", b'{"type": "ping"}', None),
        # Deep nesting, within and beyond the frame size.
        ("1,000 nested arrays", "[" * DEEP + "]" * DEEP, None),
        ("1,000 nested objects", '{"a":' * DEEP + "1" + "}" * DEEP, None),
        ("nested arrays inside a frame", '{"type": "resume", "rooms": ' + "[" * 40 + "]" * 40 + "}", None),
        ("20,000 unclosed brackets", "[" * 20_000, None),
        ("100,000 nested arrays (too large)", "[" * 100_000 + "]" * 100_000, None),
        ("a frame over 64 KiB", json.dumps({"type": "ping", "pad": "x" * 70_000}), None),
        # Text PostgreSQL or UTF-8 cannot hold; the client_id still comes back.
        ("NUL in content", send("nul-1", content="a\u0000b"), "nul-1"),
        ("lone surrogate in content", send("sur-1").replace('"x"', '"\\ud800"'), "sur-1"),
        ("lone low surrogate in a field", '{"type": "ping", "x": "\\udfff"}', "ping"),
        ("NUL in a key", '{"type": "ping", "a\\u0000": 1}', "ping"),
        ("NUL in the type", '{"type": "pi\\u0000ng"}', None),
        # Huge numbers.
        ("a 5,000-digit number", '{"type": "ping", "n": 1' + "0" * 5000 + "}", None),
        ("infinity as client_id", send("x").replace('"client_id": "x"', '"client_id": 1e999999'), room_id),
        ("NaN as room_id", json.dumps({"type": "message.send", "room_id": "r", "content": "x"}).replace('"r"', "NaN"),
         "message.send"),
        # Garbage ids and wrong types, frame by frame.
        ("send: garbage room_id", send("g-1", room_id="not-a-uuid"), "g-1"),
        ("send: numeric room_id", send("g-2", room_id=12345), "g-2"),
        ("send: someone else's room", send("g-3", room_id=other), "g-3"),
        ("send: content an object", send("g-4", content={"a": 1}), "g-4"),
        ("send: content a number", send("g-5", content=10**30), "g-5"),
        ("send: empty content", send("g-6", content=""), "g-6"),
        ("send: content too long", send("g-7", content="y" * 60_000), "g-7"),
        ("send: client_id a number", send(5), room_id),
        ("send: client_id too long", send("c" * 1000), room_id),
        ("send: reply_to garbage", send("g-8", reply_to="zzz"), "g-8"),
        ("send: reply_to a number", send("g-9", reply_to=12), "g-9"),
        ("send: reply_to unknown", send("g-10", reply_to=other), "g-10"),
        ("send: no room_id", json.dumps({"type": "message.send", "content": "x", "client_id": "g-11"}), "g-11"),
        ("edit: garbage id", json.dumps({"type": "message.edit", "message_id": "' OR 1=1 --", "content": "y"}),
         "' OR 1=1 --"),
        ("edit: unknown id", json.dumps({"type": "message.edit", "message_id": other, "content": "y"}), other),
        ("edit: content a list", json.dumps({"type": "message.edit", "message_id": message_id, "content": []}),
         message_id),
        ("delete: id a list", json.dumps({"type": "message.delete", "message_id": []}), "message.delete"),
        ("delete: unknown id", json.dumps({"type": "message.delete", "message_id": other}), other),
        ("react: empty emoji", json.dumps({"type": "reaction.add", "message_id": message_id, "emoji": ""}), message_id),
        ("react: huge emoji", json.dumps({"type": "reaction.add", "message_id": message_id, "emoji": "e" * 500}),
         message_id),
        ("react: garbage id", json.dumps({"type": "reaction.add", "message_id": "%00", "emoji": "👍"}), "%00"),
        ("unreact: emoji a number", json.dumps({"type": "reaction.remove", "message_id": message_id, "emoji": 1}),
         message_id),
        ("typing: bad state", json.dumps({"type": "typing", "room_id": room_id, "state": "maybe"}), room_id),
        ("typing: garbage room", json.dumps({"type": "typing", "room_id": "../../etc", "state": "start"}),
         "../../etc"),
        ("read: garbage ids", json.dumps({"type": "read", "room_id": "x", "message_id": "y"}), "y"),
        ("read: someone else's room", json.dumps({"type": "read", "room_id": other, "message_id": message_id}),
         message_id),
        ("resume: rooms a string", json.dumps({"type": "resume", "rooms": "all"}), "resume"),
        ("resume: garbage cursor", json.dumps({"type": "resume", "rooms": {room_id: "AAAA"}}), "resume"),
        ("resume: cursor a number", json.dumps({"type": "resume", "rooms": {room_id: 5}}), "resume"),
        ("resume: someone else's room", json.dumps({"type": "resume", "rooms": {other: None}}), other),
        ("job.subscribe: garbage id", json.dumps({"type": "job.subscribe", "job_id": "nope"}), "job.subscribe"),
        ("job.subscribe: unknown id", json.dumps({"type": "job.subscribe", "job_id": other}), "job.subscribe"),
        ("job.subscribe: id an object", json.dumps({"type": "job.subscribe", "job_id": {}}), "job.subscribe"),
        ("presence: bad status", json.dumps({"type": "presence", "status": "busy"}), "presence"),
        ("presence: status an object", json.dumps({"type": "presence", "status": {"a": 1}}), "presence"),
        ("auth once authenticated", json.dumps({"type": "auth", "token": "x" * 40}), "auth"),
    ]


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws/"


async def _next(ws, timeout: float = 10) -> dict:
    """The next frame that is not presence chatter."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] != "presence":
            return frame


def _server_log(tmp_path) -> str:
    return "".join(p.read_text() for p in tmp_path.glob("asgi-*.log"))


def test_every_hostile_frame_gets_an_error_and_the_socket_stays_open(make_user, tmp_path):
    user = make_user("hostile")
    room = room_create(owner=user, name="hostile-room")
    message = message_post(actor=user, room=room, content="target")
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_for(user)}"
    frames = catalogue(str(room.id), str(message.id))
    answers = {}

    # The frame rate limit has its own test; here every frame must be judged.
    with asgi_servers(1, tmp_path, WS_FRAME_RATE=1000) as (base,):
        async def scenario():
            async with connect(_ws(base), additional_headers={"Cookie": cookie, "Origin": base},
                               max_size=None) as ws:
                assert (await _next(ws))["type"] == "ready"
                for name, frame, _ in frames:
                    await ws.send(frame)
                    answers[name] = await _next(ws)
                    await ws.send(json.dumps({"type": "ping"}))
                    assert await _next(ws) == {"type": "pong"}, f"no pong after {name!r}"
                assert ws.close_code is None

        asyncio.run(scenario())
        log = _server_log(tmp_path)

    for name, _, ref in frames:
        answer = answers[name]
        assert answer["type"] == "error", (name, answer)
        assert isinstance(answer["code"], str) and isinstance(answer["message"], str), (name, answer)
        assert answer["code"] != "server_error", (name, answer)
        if ref is not None:
            assert answer.get("ref") == ref, (name, answer)
    assert answers["1,000 nested arrays"]["code"] == "validation_error"
    assert answers["send: someone else's room"]["code"] == "permission_denied"
    assert Message.objects.filter(room=room).exclude(message_type="system").count() == 1  # only "target"
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


@pytest.mark.parametrize("frame", ["[" * 50_000, '{"type": "auth", "token": "\\ud800"}', b"\x00", "null",
                                   '{"type": "auth", "token": 12}', '{"type": "auth", "token": "t\\u0000"}'])
def test_before_auth_a_hostile_first_frame_closes_with_4401(tmp_path, frame):
    with asgi_servers(1, tmp_path) as (base,):
        async def scenario():
            async with connect(_ws(base), max_size=None) as ws:
                await ws.send(frame)
                await asyncio.wait_for(ws.wait_closed(), 10)
                return ws.close_code

        assert asyncio.run(scenario()) == 4401
        log = _server_log(tmp_path)
    assert "Traceback" not in log, log[-3000:]
