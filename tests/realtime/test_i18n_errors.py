"""The socket's error frames in the user's language (issue 19): the
socket's own refusals (a frame that is not JSON, an unknown type, bad
fields, a resume of a room the user is not in) and the services' (a post
to a room the user is not in, an archived room) come back with their
English ``code`` and the ``message`` (and ``fields``) in the user's profile
language; an English user's stay English. Before authentication the
handshake's Accept-Language applies."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.utils import translation

from accounts.models import Profile
from chatroom.models import Room
from realtime.languages import scope_language
from tests.chatroom.live_helpers import connect, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_async_db_connections")]


def speak(user, language: str):
    Profile.objects.filter(user=user).update(language=language)
    return user


@pytest.fixture
def wang_and_amy(make_room, make_user, member_of):
    amy = make_user("amy")
    room = make_room(owner=amy, name="lobby")
    wang = speak(member_of(room, username="wang"), "zh-hans")
    other = make_room(owner=amy, name="other")
    return wang, amy, room, other


async def _error_for(comm, frame) -> dict:
    if isinstance(frame, str):
        await comm.send_to(text_data=frame)
    else:
        await comm.send_json_to(frame)
    return await until(comm, "error")


async def test_a_chinese_users_error_frames_are_in_chinese_with_english_codes(wang_and_amy):
    wang, amy, room, other = wang_and_amy
    w, _ = await connect(wang)

    error = await _error_for(w, {"type": "message.send", "room_id": str(other.id), "content": "你好", "client_id": "c1"})
    assert (error["code"], error["message"], error["ref"]) == ("permission_denied", "你不是此频道的成员。", "c1")

    error = await _error_for(w, {"type": "bogus"})
    assert (error["code"], error["message"]) == ("unknown_type", "未知的帧类型 'bogus'。")

    error = await _error_for(w, {"type": "presence", "status": "asleep"})
    assert error["code"] == "validation_error" and error["fields"] == {"status": ["须为 online 或 away。"]}

    error = await _error_for(w, "not json")
    assert error["code"] == "validation_error"
    assert error["message"] == "输入无效。"  # core's general message; safejson's field texts are config's

    error = await _error_for(w, {"type": "typing", "room_id": str(room.id), "state": "maybe"})
    assert error["fields"] == {"state": ["须为 start 或 stop。"]}

    error = await _error_for(w, {"type": "resume", "rooms": {str(other.id): None}})
    assert (error["code"], error["message"]) == ("permission_denied", "你不是此频道的成员。")

    await sync_to_async(Room.objects.filter(pk=room.pk).update)(archived=True)
    error = await _error_for(w, {"type": "message.send", "room_id": str(room.id), "content": "你好", "client_id": "c2"})
    assert (error["code"], error["message"]) == ("conflict", "此频道已归档。")
    await w.disconnect()


async def test_an_english_users_error_frames_stay_english(wang_and_amy):
    wang, amy, room, other = wang_and_amy
    a, _ = await connect(amy)
    error = await _error_for(a, {"type": "bogus"})
    assert (error["code"], error["message"]) == ("unknown_type", "Unknown frame type 'bogus'.")
    error = await _error_for(a, {"type": "message.send", "room_id": str(uuid.uuid4()), "content": "x", "client_id": "e"})
    assert (error["code"], error["message"]) == ("permission_denied", "You are not a member of this room.")
    await a.disconnect()


async def test_a_language_never_leaks_from_one_socket_to_another(wang_and_amy):
    wang, amy, room, other = wang_and_amy
    w, _ = await connect(wang)
    a, _ = await connect(amy)
    for _ in range(3):
        assert (await _error_for(w, {"type": "bogus"}))["message"] == "未知的帧类型 'bogus'。"
        assert (await _error_for(a, {"type": "bogus"}))["message"] == "Unknown frame type 'bogus'."
    assert translation.get_language() in (None, "en", "en-us")
    await w.disconnect()
    await a.disconnect()


def test_before_authentication_the_handshake_says_which_language():
    def scope(*headers, cookies=None):
        return {"headers": list(headers), "cookies": cookies or {}}

    assert scope_language(scope((b"accept-language", b"ko-KR,ko;q=0.9,en;q=0.5"))) == "ko"
    assert scope_language(scope((b"accept-language", b"zh-CN,zh;q=0.9"))) == "zh-hans"
    assert scope_language(scope((b"accept-language", b"fr-FR"))) == "en"
    assert scope_language(scope((b"accept-language", b"ko"), cookies={"django_language": "zh-hans"})) == "zh-hans"
    assert scope_language(scope(cookies={"django_language": "garbage"})) == "en"
    assert scope_language({}) == "en"
