"""System messages in each reader's language (issue 19): a join, a rename
and a kick are stored as a code with parameters (``metadata``) beside
their English text, and a Chinese, a Korean and an English member of one
room each read them in their own language, through the API's history and
on a real socket (live ``message.new`` and a resume from the database);
the API's errors come back in the user's language with English codes. An
unknown code or a missing parameter never fails a read: the stored text
is shown."""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import translation

from accounts.models import Profile
from chatroom import services
from chatroom.models import Message, Room
from chatroom.presenters import message_dicts
from core import coded_texts
from tests.chatroom.live_helpers import connect, frames_for, until

# What the three readers read, for the join, the rename and the kick below.
READS = {
    "en": ["newbie joined", "owner renamed the room to plaza", "newbie was removed by owner"],
    "zh-hans": ["newbie 加入了频道", "owner 将频道重命名为 plaza", "newbie 已被 owner 移出频道"],
    "ko": ["newbie님이 참여했습니다", "owner님이 채널 이름을 plaza(으)로 변경했습니다",
           "newbie님이 owner님에 의해 내보내졌습니다"],
}
ENGLISH = READS["en"]


def speak(user, language: str):
    Profile.objects.filter(user=user).update(language=language)
    user.refresh_from_db()
    return user


@pytest.fixture
def room_of_three(make_room, make_user, member_of):
    """A room with an English owner, a Chinese and a Korean member."""
    owner = make_user("owner")
    room = make_room(owner=owner, name="lobby")
    wang = speak(member_of(room, username="wang"), "zh-hans")
    kim = speak(member_of(room, username="kim"), "ko")
    return room, owner, wang, kim


def act(room, owner, make_user):
    """newbie joins, the owner renames the room, then removes newbie; in
    Korean, so nothing depends on the actor's language."""
    newbie = make_user("newbie")
    with translation.override("ko"):
        services.room_join(user=newbie, room=room)
        services.room_update(actor=owner, room=room, name="plaza")
        services.member_kick(actor=owner, room=Room.objects.get(pk=room.pk), user=newbie)
    return newbie


def ours(messages: list[dict]) -> list[dict]:
    """The system messages act() posted (not wang's and kim's joins)."""
    return [m for m in messages if m["message_type"] == "system" and m["user"]["username"] in ("newbie", "owner")]


def system_texts(room) -> list[str]:
    return list(Message.objects.filter(room=room, message_type="system", user__username__in=["newbie", "owner"])
                .order_by("created_at").values_list("content", flat=True))


def history(user, room) -> list[dict]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/api/v1/rooms/{room.id}/messages/?limit=50")
    assert response.status_code == 200, response.content
    return [m for m in response.json()["results"] if m["message_type"] == "system"]


@pytest.mark.django_db
def test_stored_as_a_code_and_english_whatever_the_actors_language(room_of_three, make_user):
    room, owner, wang, kim = room_of_three
    act(room, owner, make_user)
    assert system_texts(room) == ENGLISH
    kicked = Message.objects.get(room=room, metadata__event="kicked")
    assert kicked.metadata == {"event": "kicked", "by_user_id": str(owner.id), "by": "owner"}
    renamed = Message.objects.get(room=room, metadata__event="renamed")
    assert renamed.metadata == {"event": "renamed", "old_name": "lobby", "new_name": "plaza"}


@pytest.mark.django_db
def test_each_member_reads_the_history_in_their_language(room_of_three, make_user):
    room, owner, wang, kim = room_of_three
    act(room, owner, make_user)
    for user, language in ((owner, "en"), (wang, "zh-hans"), (kim, "ko")):
        got = ours(history(user, room))
        assert [m["content"] for m in got] == READS[language], language
        assert READS[language][2] in got[2]["html"]  # the html follows the text
        # The code and its parameters travel along, for clients that render them themselves.
        assert [m["metadata"]["event"] for m in got] == ["joined", "renamed", "kicked"]
        assert got[2]["metadata"]["by"] == "owner"


@pytest.mark.django_db
def test_the_api_refuses_in_the_users_language_with_english_codes(room_of_three, make_room, make_user):
    room, owner, wang, kim = room_of_three
    client = Client()
    client.force_login(kim)
    no_reply = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "답글", "reply_to": str(uuid.uuid4())},
                           content_type="application/json")
    assert no_reply.status_code == 400
    assert no_reply.json()["error"]["code"] == "validation_error"
    assert no_reply.json()["error"]["fields"] == {"reply_to": ["이 채널에 해당 메시지가 없습니다."]}

    Room.objects.filter(pk=room.pk).update(archived=True)
    archived = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "안녕"}, content_type="application/json")
    assert archived.status_code == 409
    assert archived.json()["error"] == {"code": "conflict", "message": "이 채널은 보관되었습니다."}

    elsewhere = make_room(owner=owner, name="elsewhere")
    outsider = client.post(f"/api/v1/rooms/{elsewhere.id}/messages/", {"content": "안녕"},
                           content_type="application/json")
    assert outsider.status_code == 403
    assert outsider.json()["error"] == {"code": "permission_denied", "message": "이 채널의 멤버가 아닙니다."}

    # The same refusal for the English owner stays English.
    client.force_login(owner)
    Room.objects.filter(pk=elsewhere.pk).update(archived=True)
    english = client.post(f"/api/v1/rooms/{elsewhere.id}/messages/", {"content": "hi"}, content_type="application/json")
    assert english.json()["error"] == {"code": "conflict", "message": "This room is archived."}


@pytest.mark.django_db
def test_an_unknown_code_or_a_missing_parameter_reads_the_stored_text(room_of_three):
    room, owner, wang, kim = room_of_three
    rows = []
    for metadata in ({"event": "exploded"}, {"event": "kicked"}, {"event": "renamed", "old_name": "a"},
                     {"event": ["not", "a", "code"]}, {}, {"event": "kicked", "by": {"a": "dict"}}):
        rows.append(Message.objects.create(room=room, user=owner, message_type="system", content="stored text",
                                           metadata=metadata))
    for language in ("zh-hans", "ko", "en"):
        with translation.override(language):
            got = message_dicts(list(Message.objects.filter(pk__in=[r.pk for r in rows])), wang)
        assert [m["content"] for m in got] == ["stored text"] * len(rows), language
    # Through the API too: no 500.
    assert {m["content"] for m in history(wang, room) if m["id"] in {str(r.id) for r in rows}} == {"stored text"}


def test_the_registry_falls_back_rather_than_fail():
    with translation.override("zh-hans"):
        assert coded_texts.system_message({"event": "joined"}, "ann", "x") == "ann 加入了频道"
        assert coded_texts.system_message({"event": "nope"}, "ann", "x") == "x"
        assert coded_texts.system_message("garbage", "ann", "x") == "x"
        assert coded_texts.system_message({"event": "kicked"}, "ann", "x") == "x"  # no "by"
        # A name that looks like a placeholder is only a name.
        assert coded_texts.system_message({"event": "joined"}, "%(by)s", "x") == "%(by)s 加入了频道"
        assert coded_texts.notification_title({"i18n": {"code": "dm", "params": "nope"}}, "stored") == "stored"
        assert coded_texts.notification_title({"i18n": {"code": "nope", "params": {}}}, "stored") == "stored"
        assert coded_texts.notification_title({"i18n": {"code": "mention", "params": {"actor": "a"}}}, "t") == "t"
        assert coded_texts.notification_title({"i18n": "x"}, "stored") == "stored"
        assert coded_texts.notification_title(None, "stored") == "stored"
    with pytest.raises(KeyError):  # a writer must give every parameter
        coded_texts.english(coded_texts.SYSTEM_MESSAGES, "kicked", {"user": "a"})


# --------------------------------------------------------------------------- the socket

def _system(frames) -> list[str]:
    return [f["message"]["content"] for f in frames
            if f["type"] == "message.new" and f["message"]["message_type"] == "system"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_each_socket_reads_live_system_messages_in_its_users_language(room_of_three, make_user):
    room, owner, wang, kim = room_of_three
    sockets = {}
    for user, language in ((owner, "en"), (wang, "zh-hans"), (kim, "ko")):
        sockets[language], _ = await connect(user)
    await frames_for(sockets["ko"], 2.5)  # past the resume grace: live from here
    await sync_to_async(act)(room, owner, make_user)
    for language, comm in sockets.items():
        got = _system(await frames_for(comm, 2.0))
        assert got == READS[language], language
    for comm in sockets.values():
        await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_a_resume_reads_the_missed_system_messages_in_the_users_language(room_of_three, make_user):
    room, owner, wang, kim = room_of_three
    before = await sync_to_async(services.message_post)(actor=owner, room=room, content="before")
    await sync_to_async(act)(room, owner, make_user)
    k, _ = await connect(kim)
    await k.send_json_to({"type": "resume", "rooms": {str(room.id): before.cursor}})
    assert _system(await frames_for(k, 1.5)) == READS["ko"]
    await k.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_db_connections")
async def test_a_socket_error_frame_is_in_the_users_language_with_its_english_code(room_of_three, make_room):
    room, owner, wang, kim = room_of_three
    elsewhere = await sync_to_async(make_room)(owner=owner, name="elsewhere")
    w, _ = await connect(wang)
    await w.send_json_to({"type": "message.send", "room_id": str(elsewhere.id), "content": "你好", "client_id": "c1"})
    error = await until(w, "error")
    assert (error["code"], error["message"], error["ref"]) == ("permission_denied", "你不是此频道的成员。", "c1")
    await w.disconnect()


def test_a_frame_the_localizer_cannot_render_is_relayed_as_it_came():
    from realtime import languages, registry

    def boom(frame):
        raise RuntimeError("a bug in a localizer")

    registry.register_localizer("test.boom", boom)
    text = '{"type": "test.boom"}'
    assert languages.localized_text("test.boom", text, "zh-hans") == text
    assert languages.localized_text("message.new", "not json", "ko") == "not json"
    assert languages.localized_text("no.localizer", text, "ko") == text
    # A system message without its user or text: the (empty) stored text, no error.
    bare = '{"type": "message.new", "message": {"message_type": "system", "metadata": {"event": "joined"}}}'
    assert '"content": ""' in languages.localized_text("message.new", bare, "ko")


@pytest.mark.django_db
def test_the_socket_renders_one_event_once_per_language(room_of_three, make_user, django_assert_num_queries):
    from realtime import languages

    room, owner, wang, kim = room_of_three
    newbie = make_user("newbie2")
    services.room_join(user=newbie, room=room)
    joined = Message.objects.filter(room=room, user=newbie).get()

    text = json.dumps({"type": "message.new", "message": message_dicts([joined])[0]})
    languages.localized_text.cache_clear()
    with django_assert_num_queries(0):  # on the event loop: no query
        zh = languages.localized_text("message.new", text, "zh-hans")
        for _ in range(50):
            assert languages.localized_text("message.new", text, "zh-hans") is zh
    assert json.loads(zh)["message"]["content"] == "newbie2 加入了频道"
    info = languages.localized_text.cache_info()
    assert (info.misses, info.hits) == (1, 50)
    assert json.loads(languages.localized_text("message.new", text, "ko"))["message"]["content"] == "newbie2님이 참여했습니다"


# --------------------------------------------------------------------------- the room page, in a real browser


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_room_page_shows_each_reader_the_system_messages_in_their_language(room_of_three, make_user, tmp_path):
    import os
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from django.db import connections

    from tests.browser import require_chromium, room_pages, screenshot_pages, session_for
    from tests.processes import asgi_servers

    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    room, owner, wang, kim = room_of_three
    newbie = make_user("newbie")
    services.room_join(user=newbie, room=room)  # in the history the page loads
    services.message_post(actor=owner, room=room, content="@wang @kim welcome newbie")
    sessions = {"wang": session_for(wang), "kim": session_for(kim)}

    def in_thread(work):
        def run():
            try:
                return work()
            finally:
                connections.close_all()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(run).result()

    shots = os.environ.get("SCREENSHOT_DIR")
    with asgi_servers(1, tmp_path) as (base,), sync_playwright() as p, room_pages(p, base, room, sessions) as pages:
        for who, language in (("wang", "zh-hans"), ("kim", "ko")):
            system = pages[who].locator("[data-testid=timeline] .system-text")
            expect(system.filter(has_text=READS[language][0])).to_be_visible()
        # Renamed and kicked while both pages are open: live, each in its language.
        in_thread(lambda: services.room_update(actor=owner, room=Room.objects.get(pk=room.pk), name="plaza"))
        in_thread(lambda: services.member_kick(actor=owner, room=Room.objects.get(pk=room.pk), user=newbie))
        for who, language in (("wang", "zh-hans"), ("kim", "ko")):
            system = pages[who].locator("[data-testid=timeline] .system-text")
            for text in READS[language]:
                expect(system.filter(has_text=text)).to_be_visible()
            expect(system.filter(has_text="joined")).to_have_count(0)
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            screenshot_pages(base, shots, (("room-system-zh", pages["wang"], f"/chat/rooms/{room.id}/"),
                                           ("room-system-ko", pages["kim"], f"/chat/rooms/{room.id}/"),
                                           ("notifications-zh", pages["wang"], "/notifications/"),
                                           ("notifications-ko", pages["kim"], "/notifications/")))
