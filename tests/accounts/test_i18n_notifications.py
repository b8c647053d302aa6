"""Notifications in each recipient's language (issue 19): a mention, a
group mention, a DM and a finished job store their title as a code with
parameters (``data["i18n"]``) beside the English text, and each recipient
reads it in their own language: in the API's list, on the notifications
page, and in the frame pushed to their sockets. A title whose code is
unknown or whose parameters are missing reads as stored."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone, translation

from accounts import notifications
from accounts.models import Notification, Profile
from chatroom import services as chat
from realtime import broadcast
from tests.layer import GroupListener

pytestmark = pytest.mark.django_db


def speak(user, language: str):
    Profile.objects.filter(user=user).update(language=language)
    user.refresh_from_db()
    return user


@pytest.fixture
def people(make_user):
    amy = make_user("amy", password=None)  # English
    wang = speak(make_user("wang", password=None), "zh-hans")
    kim = speak(make_user("kim", password=None), "ko")
    room = chat.room_create(owner=amy, name="general")
    for user in (wang, kim):
        chat.room_join(user=user, room=room)
    return room, amy, wang, kim


def api_titles(user) -> list[str]:
    client = Client()
    client.force_login(user)
    response = client.get("/api/v1/notifications/")
    assert response.status_code == 200, response.content
    return [n["title"] for n in response.json()["results"]]


def page_of(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/notifications/")
    assert response.status_code == 200
    return response.content.decode()


MENTION = {"wang": "amy 在 #general 中提到了你", "kim": "amy님이 #general에서 회원님을 멘션했습니다"}


def test_a_mention_reads_in_each_recipients_language(people):
    room, amy, wang, kim = people
    with translation.override("ko"):  # the author's language changes nothing
        chat.message_post(actor=amy, room=room, content="hi @wang and @kim")
    for user in (wang, kim):
        row = Notification.objects.get(user=user, type="mention")
        assert row.title == "amy mentioned you in #general"  # stored in English
        assert row.data["i18n"] == {"code": "mention", "params": {"actor": "amy", "room": "general"}}
        assert api_titles(user) == [MENTION[user.username]]
        assert MENTION[user.username] in page_of(user)
        assert "amy mentioned you" not in page_of(user)


def test_a_group_mention_and_a_dm_read_in_each_recipients_language(people):
    room, amy, wang, kim = people
    chat.message_post(actor=amy, room=room, content="@all standup")
    assert api_titles(wang) == ["amy 在 #general 中提到了 @all"]
    assert api_titles(kim) == ["amy님이 #general에서 @all을(를) 멘션했습니다"]
    dm, _ = chat.dm_open(actor=amy, user_ids=[str(kim.id)])
    chat.message_post(actor=amy, room=dm, content="psst")
    assert api_titles(kim)[0] == "amy님이 메시지를 보냈습니다"
    assert Notification.objects.get(user=kim, data__reason="dm").title == "amy sent you a message"
    # The English reader reads English.
    chat.message_post(actor=kim, room=room, content="@amy 네")
    assert api_titles(amy) == ["kim mentioned you in #general"]


@pytest.mark.django_db(transaction=True)
def test_the_pushed_frame_is_in_the_recipients_language(people):
    room, amy, wang, kim = people
    with GroupListener(broadcast.user_group(wang.id), broadcast.user_group(kim.id)) as listener:
        chat.message_post(actor=amy, room=room, content="@wang @kim look")
        chat.message_post(actor=amy, room=room, content="@all look")
        broadcast.flush_broadcasts()
        titles = {}
        for frame in listener.frames():
            if frame["type"] == "notification":
                n = Notification.objects.get(pk=frame["notification"]["id"])
                titles.setdefault(n.user.username, []).append(frame["notification"]["title"])
    assert titles["wang"] == [MENTION["wang"], "amy 在 #general 中提到了 @all"]
    assert titles["kim"] == [MENTION["kim"], "amy님이 #general에서 @all을(를) 멘션했습니다"]


@pytest.fixture
def korean_job_owner(tmp_path, settings, make_user):
    from jobs import services as job_services

    allowed = tmp_path / "allowed"
    (allowed / "src").mkdir(parents=True)
    settings.RCLONE_LOCAL_ROOTS = [str(allowed)]
    owner = speak(make_user("jobowner", password=None, role="power_user"), "ko")
    job_services.remote_create(actor=owner, name="src", type="local", options={"root": str(allowed / "src")})
    return owner


def test_a_finished_job_reads_in_its_owners_language(korean_job_owner):
    from jobs import services as job_services

    job = job_services.job_submit(actor=korean_job_owner, type="delete", source={"remote": "src", "path": "/"},
                                  max_retries=0)
    job_services.job_claim(job_id=job.id, worker="test:1")
    job_services.job_finish(job=job, ok=True, stats={"bytes": 0})
    row = Notification.objects.get(user=korean_job_owner)
    assert row.title == "Delete job finished"
    assert api_titles(korean_job_owner) == ["삭제 작업 완료"]
    with translation.override("zh-hans"):
        assert notifications.notification_dict(row)["title"] == "删除任务已完成"


def test_an_unknown_code_or_missing_parameters_read_the_stored_title(people):
    room, amy, wang, kim = people
    for data in ({"i18n": {"code": "no.such.code", "params": {}}}, {"i18n": {"code": "mention", "params": {}}},
                 {"i18n": {"code": "mention", "params": ["a"]}}, {"i18n": "mention"}, {}):
        notifications.notify(user=kim, type="system_alert", title="Stored title", data=data)
    assert api_titles(kim) == ["Stored title"] * 5
    assert page_of(kim).count("Stored title") >= 5


def test_rows_read_for_the_page_are_not_saved_with_the_rendered_title(people):
    room, amy, wang, kim = people
    chat.message_post(actor=amy, room=room, content="@kim hey")
    with translation.override("ko"):
        shown = list(notifications.notifications_for(user=kim))
    assert shown[0].title == MENTION["kim"]
    notifications.notification_mark_read(user=kim, notification_id=shown[0].pk)
    notifications.notification_archive(user=kim, notification_id=shown[0].pk)
    assert Notification.objects.get(pk=shown[0].pk).title == "amy mentioned you in #general"


def test_the_missed_message_mail_names_the_room_in_the_recipients_language(people):
    from chatroom import missed_mail_send
    from chatroom.models import MissedMessageMail

    room, amy, wang, kim = people
    dm, _ = chat.dm_open(actor=amy, user_ids=[str(kim.id)])
    chat.message_post(actor=amy, room=dm, content="psst")
    chat.message_post(actor=amy, room=room, content="@kim look")
    mail = MissedMessageMail.objects.create(user=kim, notification_ids=list(
        Notification.objects.filter(user=kim).values_list("pk", flat=True)), next_attempt_at=timezone.now())
    with translation.override("en"):  # the worker's language changes nothing
        items = missed_mail_send._items(kim, mail)
        composed = missed_mail_send.compose(kim, items)
    html = composed.alternatives[0][0]
    for part in (composed.body, html):
        assert "다이렉트 메시지" in part and "#general" in part
        assert "a direct message" not in part
