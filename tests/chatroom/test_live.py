"""The live socket (issue 7) through the real ASGI stack, the real Redis
channel layer and PostgreSQL: delivery, ack and dedupe, membership enforced
live, resume, gap filling, typing, abuse limits."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from chatroom import services
from chatroom.models import Message
from chatroom.services import message_send
from realtime import consumers, delivery
from tests.chatroom.live_helpers import connect, frames_for, next_frame, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


async def test_send_acks_delivers_once_and_dedupes(pair):
    room, alice, bob = pair
    a, ready = await connect(alice)
    assert [r["id"] for r in ready["rooms"]] == [str(room.id)]
    b, _ = await connect(bob)
    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "hello <b>", "client_id": "c1"})
    ack = await next_frame(a, skip=("presence", "message.new"))
    assert ack["type"] == "ack" and ack["client_id"] == "c1" and ack["message"]["content"] == "hello <b>"
    new = await next_frame(b)
    assert new == {"type": "message.new", "message": {**new["message"]}}
    assert new["message"]["id"] == ack["message"]["id"]

    # The same client_id again: the first message, nothing new stored or sent.
    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "hello <b>", "client_id": "c1"})
    again = await until(a, "ack")
    assert again["message"]["id"] == ack["message"]["id"]
    assert await frames_for(b, 0.5) == []
    assert await sync_to_async(Message.objects.filter(room=room, message_type="text").count)() == 1
    await a.disconnect()
    await b.disconnect()


async def test_changes_from_any_face_reach_sockets(pair, api_as):
    room, alice, bob = pair
    b, _ = await connect(bob)
    message = await sync_to_async(services.message_post)(actor=alice, room=room, content="from the service")
    assert (await next_frame(b))["message"]["id"] == str(message.id)
    client = api_as(alice)
    response = await sync_to_async(client.post)(f"/api/v1/messages/{message.id}/reactions/",
                                                {"emoji": "👍"}, format="json")
    assert response.status_code in (200, 201), response.content
    reaction = await next_frame(b)
    assert reaction["type"] == "reaction.updated" and reaction["reactions"][0]["emoji"] == "👍"
    await sync_to_async(services.message_edit)(actor=alice, message_id=message.id, content="edited")
    updated = await next_frame(b)
    assert updated["type"] == "message.updated" and updated["message"]["content"] == "edited"
    await sync_to_async(services.message_delete)(actor=alice, message_id=message.id)
    deleted = await next_frame(b)
    assert deleted == {"type": "message.deleted", "room_id": str(room.id), "message_id": str(message.id)}
    await b.disconnect()


async def test_socket_frames_edit_react_read_and_errors(pair):
    room, alice, bob = pair
    a, _ = await connect(alice)
    b, _ = await connect(bob)
    await b.send_json_to({"type": "message.send", "room_id": str(room.id), "content": "mine", "client_id": "x"})
    mid = (await until(b, "ack"))["message"]["id"]
    await a.send_json_to({"type": "reaction.add", "message_id": mid, "emoji": "🎉"})
    assert (await until(b, "reaction.updated"))["reactions"] == [{"emoji": "🎉", "count": 1}]
    await a.send_json_to({"type": "read", "room_id": str(room.id), "message_id": mid})
    read = await until(b, "read")
    assert read == {"type": "read", "room_id": str(room.id), "user_id": str(alice.id), "message_id": mid}
    # Alice may not edit Bob's message: an error frame, and nothing changes.
    await a.send_json_to({"type": "message.edit", "message_id": mid, "content": "hacked"})
    error = await until(a, "error")
    assert error["code"] == "permission_denied" and error["ref"] == mid
    assert (await sync_to_async(Message.objects.get)(id=mid)).content == "mine"
    # Missing fields name the field.
    await a.send_json_to({"type": "message.send", "room_id": str(room.id), "client_id": "y"})
    error = await until(a, "error")
    assert error["code"] == "validation_error" and "content" in error["fields"] and error["ref"] == "y"
    await a.send_json_to({"type": "message.send", "room_id": "not-a-uuid", "content": "x", "client_id": "z"})
    assert (await until(a, "error"))["code"] in ("validation_error", "not_found")
    await a.disconnect()
    await b.disconnect()


async def test_a_non_member_cannot_post_or_type_and_gets_no_frames(pair, make_user):
    room, alice, _ = pair
    eve = await sync_to_async(make_user)("eve")
    e, ready = await connect(eve)
    assert ready["rooms"] == []
    for frame in ({"type": "message.send", "room_id": str(room.id), "content": "hi", "client_id": "e1"},
                  {"type": "typing", "room_id": str(room.id), "state": "start"},
                  {"type": "resume", "rooms": {str(room.id): None}}):
        await e.send_json_to(frame)
        assert (await until(e, "error"))["code"] == "permission_denied"
    await sync_to_async(services.message_post)(actor=alice, room=room, content="secret")
    assert await frames_for(e, 0.5) == []
    await e.disconnect()


async def test_kicked_member_stops_receiving_and_joiner_starts(pair, make_user):
    room, alice, bob = pair
    b, _ = await connect(bob)
    carol = await sync_to_async(make_user)("carol")
    c, _ = await connect(carol)

    await sync_to_async(services.member_kick)(actor=alice, room=room, user=bob)
    left = await until(b, "member.left")
    assert left["user"]["id"] == str(bob.id)
    await sync_to_async(services.room_join)(user=carol, room=room)
    joined = await until(c, "member.joined")
    assert joined["user"]["id"] == str(carol.id)

    await sync_to_async(services.message_post)(actor=alice, room=room, content="after the kick")
    got = await until(c, "message.new")
    assert got["message"]["content"] == "after the kick"
    assert [f for f in await frames_for(b, 0.7) if f["type"] == "message.new"] == []
    await b.disconnect()
    await c.disconnect()


async def test_banned_users_sockets_are_closed(pair, make_user):
    from accounts.services import user_ban

    room, alice, bob = pair
    staff = await sync_to_async(make_user)("staffer", is_staff=True)
    b, _ = await connect(bob)
    await sync_to_async(user_ban)(actor=staff, user=bob)
    while True:
        out = await b.receive_output(timeout=5)
        if out["type"] == "websocket.close":
            assert out["code"] == 4401
            break


async def test_resume_sends_the_gap_in_order_then_live_without_duplicates(pair):
    room, alice, bob = pair
    posted = []
    for i in range(5):
        posted.append(await sync_to_async(services.message_post)(actor=alice, room=room, content=f"m{i}"))
    b, ready = await connect(bob)
    # Bob's app last saw m1: resume from its cursor while more keep coming.
    await b.send_json_to({"type": "resume", "rooms": {str(room.id): posted[1].cursor}})
    for i in range(5, 8):
        posted.append(await sync_to_async(services.message_post)(actor=alice, room=room, content=f"m{i}"))
    got = [f["message"]["content"] for f in await frames_for(b, 1.5) if f["type"] == "message.new"]
    assert got == [f"m{i}" for i in range(2, 8)]
    await b.disconnect()


def _silent_insert(room, user, content):
    """The service's own insert, without its broadcast: an event that never
    reached the socket (pub/sub delivers at most once)."""
    from django.db import transaction

    with transaction.atomic():
        message = message_send._draft(room_id=room.id, user=user, content=content, message_type="text")
        assert message_send._insert(message, judge=True) == "posted"
        return message


async def test_a_missed_message_is_fetched_before_the_next_one(pair):
    """A message whose event never reached the socket is noticed by the next
    event's previous-cursor and sent first."""
    room, alice, bob = pair
    b, _ = await connect(bob)

    await sync_to_async(_silent_insert)(room, alice, "lost")
    await sync_to_async(services.message_post)(actor=alice, room=room, content="next")
    got = [f["message"]["content"] for f in await frames_for(b, 3.0) if f["type"] == "message.new"]
    assert got == ["lost", "next"]
    await b.disconnect()


async def test_a_missed_last_message_is_found_by_the_periodic_check(pair, monkeypatch):
    monkeypatch.setattr(consumers, "HEADS_CHECK_SECONDS", 0.5)
    monkeypatch.setattr(delivery, "HEADS_GRACE_SECONDS", 0)
    room, alice, bob = pair
    b, _ = await connect(bob)

    await sync_to_async(_silent_insert)(room, alice, "trailing")
    got = await until(b, "message.new", timeout=5)
    assert got["message"]["content"] == "trailing"
    assert [f for f in await frames_for(b, 1.2) if f["type"] == "message.new"] == []
    await b.disconnect()


@override_settings(TYPING_TTL_SECONDS=1)
async def test_typing_reaches_others_not_the_typist_and_expires(pair):
    room, alice, bob = pair
    a, _ = await connect(alice)
    a2, _ = await connect(alice)  # alice's second tab
    b, _ = await connect(bob)
    await a.send_json_to({"type": "typing", "room_id": str(room.id), "state": "start"})
    start = await until(b, "typing")
    assert start == {"type": "typing", "room_id": str(room.id), "user": start["user"], "state": "start"}
    assert start["user"]["id"] == str(alice.id)
    # A refresh within the relay interval is not sent again.
    await a.send_json_to({"type": "typing", "room_id": str(room.id), "state": "start"})
    # No "stop" was sent: it lapses after TYPING_TTL_SECONDS.
    stop = await until(b, "typing", timeout=3)
    assert stop["state"] == "stop"
    assert [f for f in await frames_for(a, 0.3) + await frames_for(a2, 0.3) if f["type"] == "typing"] == []
    for comm in (a, a2, b):
        await comm.disconnect()


@override_settings(CHAT_MESSAGE_RATE=3, CHAT_MESSAGE_RATE_WINDOW=60, WS_ABUSE_STRIKES=3)
async def test_message_rate_limit_errors_then_closes_4429(pair):
    room, alice, _ = pair
    a, _ = await connect(alice)
    codes, refusals = [], []
    for i in range(6):
        await a.send_json_to({"type": "message.send", "room_id": str(room.id), "content": f"spam {i}",
                              "client_id": f"s{i}"})
    while True:
        out = await a.receive_output(timeout=5)
        if out["type"] == "websocket.close":
            close = out["code"]
            break
        frame = json.loads(out["text"])
        if frame["type"] in ("ack", "error"):
            codes.append(frame.get("code", "ack"))
        if frame["type"] == "error":
            refusals.append(frame)
    assert codes[:3] == ["ack", "ack", "ack"]
    assert codes[3:] == ["throttled", "throttled", "throttled"]
    # Each says when to try again (seconds, a number), and whose send it was.
    for refusal, client_id in zip(refusals, ["s3", "s4", "s5"]):
        assert refusal["ref"] == client_id
        assert isinstance(refusal["retry_after"], (int, float)) and 0 < refusal["retry_after"] <= 60
    assert close == 4429
    assert await sync_to_async(Message.objects.filter(room=room, message_type="text").count)() == 3


@override_settings(WS_FRAME_RATE=5, WS_ABUSE_STRIKES=1000)
async def test_a_frame_over_the_socket_rate_is_refused_with_retry_after_and_waiting_helps(pair):
    room, alice, _ = pair
    a, _ = await connect(alice)
    for _ in range(30):  # the bucket holds 10 (twice the rate)
        await a.send_json_to({"type": "ping"})
    pongs, refusals = 0, []
    while pongs + len(refusals) < 30:
        frame = await next_frame(a)
        if frame["type"] == "pong":
            pongs += 1
        else:
            refusals.append(frame)
    assert refusals and all(f["code"] == "throttled" and f["ref"] == "ping" for f in refusals)
    wait = refusals[-1]["retry_after"]
    assert isinstance(wait, float) and 0 < wait <= 1.0
    await asyncio.sleep(wait)
    await a.send_json_to({"type": "ping"})
    assert await next_frame(a) == {"type": "pong"}
    await a.disconnect()


async def test_malformed_frames_get_error_frames_and_the_socket_lives(pair):
    room, alice, _ = pair
    a, _ = await connect(alice)
    await a.send_to(text_data="{not json")
    assert (await until(a, "error"))["code"] == "validation_error"
    await a.send_json_to(["a", "list"])
    assert (await until(a, "error"))["code"] == "validation_error"
    await a.send_json_to({"type": "launch.missiles"})
    error = await until(a, "error")
    assert error["code"] == "unknown_type" and error["ref"] == "launch.missiles"
    await a.send_to(text_data=json.dumps({"type": "message.send", "content": "x" * 70_000}))
    assert (await until(a, "error"))["code"] == "validation_error"
    await a.send_json_to({"type": "typing", "room_id": str(room.id), "state": "dancing"})
    assert (await until(a, "error"))["code"] == "validation_error"
    await a.send_json_to({"type": "resume", "rooms": {str(room.id): "garbage!"}})
    assert (await until(a, "error"))["code"] == "validation_error"
    await a.send_json_to({"type": "ping"})
    assert await until(a, "pong") == {"type": "pong"}
    await a.disconnect()


async def test_job_subscribe_refuses_someone_elses_job(pair):
    room, alice, bob = pair
    a, _ = await connect(alice)
    await a.send_json_to({"type": "job.subscribe", "job_id": "00000000-0000-0000-0000-000000000001"})
    assert (await until(a, "error"))["code"] == "not_found"
    await a.disconnect()


async def test_a_socket_that_falls_behind_is_told_to_resume_and_loses_nothing(pair):
    """Frames that waited longer than WS_MAX_LAG_SECONDS mean the client reads
    slower than its rooms talk: it is told to resume rather than fed (or
    silently skipped) a stale backlog, and its resume brings every message."""
    room, alice, bob = pair
    b, ready = await connect(bob)
    cursor = ready["rooms"][0]["cursor"]
    with override_settings(WS_MAX_LAG_SECONDS=-1):  # every frame counts as late
        await sync_to_async(services.message_post)(actor=alice, room=room, content="while slow")
        error = await until(b, "error")
        assert error["code"] == "resume_required" and error["ref"] == str(room.id)
    assert [f for f in await frames_for(b, 0.5) if f["type"] == "message.new"] == []
    await b.send_json_to({"type": "resume", "rooms": {str(room.id): cursor}})
    got = await until(b, "message.new")
    assert got["message"]["content"] == "while slow"
    await b.disconnect()


async def test_resume_right_after_ready_never_repeats_a_live_message(pair):
    """Messages that commit between ready and the client's resume are sent
    once, in order: live delivery waits for the resume (or a short grace)."""
    room, alice, bob = pair
    first = await sync_to_async(services.message_post)(actor=alice, room=room, content="m0")
    b, _ = await connect(bob)
    await sync_to_async(services.message_post)(actor=alice, room=room, content="m1")  # before bob resumes
    await b.send_json_to({"type": "resume", "rooms": {str(room.id): first.cursor}})
    await sync_to_async(services.message_post)(actor=alice, room=room, content="m2")
    got = [f["message"]["content"] for f in await frames_for(b, 2.5) if f["type"] == "message.new"]
    assert got == ["m1", "m2"]
    await b.disconnect()


async def test_without_resume_messages_since_ready_arrive_after_the_grace(pair):
    room, alice, bob = pair
    b, _ = await connect(bob)
    await sync_to_async(services.message_post)(actor=alice, room=room, content="early")
    got = await until(b, "message.new", timeout=6)
    assert got["message"]["content"] == "early"
    assert [f for f in await frames_for(b, 0.5) if f["type"] == "message.new"] == []
    await b.disconnect()


async def test_a_message_outside_your_rooms_is_not_found_on_the_socket_as_on_the_api(pair, make_room):
    room, alice, bob = pair
    elsewhere = await sync_to_async(make_room)()
    hidden = await sync_to_async(services.message_post)(actor=elsewhere.owner, room=elsewhere, content="hidden")
    b, _ = await connect(bob)
    answers = []
    for message_id in (str(hidden.id), "7d0b0b2e-0000-4000-8000-000000000000"):
        await b.send_json_to({"type": "message.edit", "message_id": message_id, "content": "mine now"})
        await b.send_json_to({"type": "reaction.add", "message_id": message_id, "emoji": "👍"})
        for _ in range(2):
            error = await until(b, "error", timeout=5)
            answers.append((error["code"], error["message"]))
    assert answers == [("not_found", "No such message.")] * 4
    await b.disconnect()
