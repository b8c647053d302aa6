"""Missed-message mail (issue 18) against a real SMTP server (aiosmtpd,
started here on a free port): what is mailed (a mention, a DM, a reply in a
followed thread, batched into one mail with both parts and the one-click
unsubscribe headers), what is not (read, deleted, edited away, online, DND,
turned off), the unsubscribe link, and SMTP down: retried, delivered later."""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts import dnd
from accounts.models import Profile
from chatroom import missed_mail, services
from chatroom.models import MissedMessageMail
from chatroom.tasks import scan_missed_messages, send_missed_mail
from config.celery import app as celery_app
from realtime import presence
from tests.processes import free_port

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    """A real SMTP server; ``smtp.stop()``/``start()`` take it down and up
    on the same port."""
    inbox = Inbox()
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://chat.example.com"

    class Server:
        mails = inbox.mails

        def start(self):
            self.controller = Controller(inbox, hostname="127.0.0.1", port=port)
            self.controller.start()

        def stop(self):
            self.controller.stop()

    server = Server()
    server.start()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield server
    celery_app.conf.task_always_eager = eager
    try:
        server.stop()
    except (AssertionError, RuntimeError):
        pass


def later(seconds=None):
    return timezone.now() + timedelta(seconds=(seconds or settings.MISSED_MESSAGE_EMAIL_DELAY_SECONDS) + 1)


def scan(django_capture_on_commit_callbacks, seconds=None):
    with django_capture_on_commit_callbacks(execute=True):
        return missed_mail.scan(now=later(seconds))


def unsubscribe_link(mail) -> str:
    return re.search(r"<([^>]+)>", str(mail["List-Unsubscribe"]))[1]


def parts(mail):
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    return text, html


@pytest.fixture
def world(make_room, member_of, make_user):
    alice = make_user("alice")
    room = make_room(owner=alice, name="general")
    bob = member_of(room, username="bob")
    return room, alice, bob


def test_a_mention_a_dm_and_a_thread_reply_come_in_one_mail_with_both_parts_and_unsubscribe(
        world, smtp, django_capture_on_commit_callbacks, make_user):
    room, alice, bob = world
    Profile.objects.filter(user=bob).update(language="ko")
    services.message_post(actor=alice, room=room, content="@bob can you review <this>?")
    root = services.message_post(actor=bob, room=room, content="my thread")
    services.message_post(actor=alice, room=room, content="a reply in it", thread_id=root.id)
    dm, _ = services.dm_open(actor=alice, user_ids=[bob.id])
    services.message_post(actor=alice, room=dm, content="psst, a DM")
    queued = scan(django_capture_on_commit_callbacks)
    assert len(queued) == 1 and len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail["To"] == "bob@example.com" and "3" in mail["Subject"]
    assert mail["Content-Language"] == "ko"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = unsubscribe_link(mail)
    assert link.startswith("https://chat.example.com/accounts/email/unsubscribe/")
    text, html = parts(mail)
    for part in (text, html):
        assert "#general" in part and "alice" in part and "a reply in it" in part and "psst, a DM" in part
        assert f"https://chat.example.com/chat/rooms/{room.id}/" in part and f"?thread={root.id}" in part
    assert "@bob can you review <this>?" in text and "@bob can you review &lt;this&gt;?" in html
    assert MissedMessageMail.objects.get().status == "sent"
    # Nothing is mailed twice, and alice (nothing missed) gets nothing.
    assert scan(django_capture_on_commit_callbacks, 600) == [] and len(smtp.mails) == 1


def test_nothing_is_mailed_for_what_was_read_deleted_or_edited_away(world, smtp, django_capture_on_commit_callbacks):
    room, alice, bob = world
    read = services.message_post(actor=alice, room=room, content="@bob first")
    services.read_mark(actor=bob, room=room, message_id=read.id)
    gone = services.message_post(actor=alice, room=room, content="@bob second")
    services.message_delete(actor=alice, message_id=gone.id)
    edited = services.message_post(actor=alice, room=room, content="@bob third")
    services.message_edit(actor=alice, message_id=edited.id, content="never mind")
    assert scan(django_capture_on_commit_callbacks) == [] and smtp.mails == []


def test_online_dnd_or_turned_off_users_get_no_mail(world, smtp, django_capture_on_commit_callbacks, make_user,
                                                    member_of):
    room, alice, bob = world
    carol, dave = member_of(room, username="carol"), member_of(room, username="dave")
    presence.update(bob.id, "test-conn", presence.ONLINE)  # a live socket
    dnd.dnd_set(actor=carol, until=(timezone.now() + timedelta(hours=3)).isoformat())
    Profile.objects.filter(user=dave).update(preferences={"email_notifications": False})
    services.message_post(actor=alice, room=room, content="@bob @carol @dave hi")
    assert scan(django_capture_on_commit_callbacks) == [] and smtp.mails == []
    # In-app notifications were still stored for all three.
    from accounts.models import Notification
    assert Notification.objects.filter(type="mention").count() == 3


def test_the_unsubscribe_link_turns_mails_off_in_one_click_and_a_get_changes_nothing(
        world, smtp, django_capture_on_commit_callbacks):
    room, alice, bob = world
    services.message_post(actor=alice, room=room, content="@bob ping")
    scan(django_capture_on_commit_callbacks)
    path = unsubscribe_link(smtp.mails[0]).removeprefix("https://chat.example.com")
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200 and b'data-testid="unsubscribe"' in page.content
    assert Profile.objects.get(user=bob).preferences.get("email_notifications") is not False
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert Profile.objects.get(user=bob).preferences["email_notifications"] is False
    assert client.post(path[:-5] + "xxxx/").status_code == 400  # a forged token
    services.message_post(actor=alice, room=room, content="@bob again")
    assert scan(django_capture_on_commit_callbacks, 300) == [] and len(smtp.mails) == 1


def test_smtp_down_delays_the_mail_and_it_is_delivered_later(world, smtp, django_capture_on_commit_callbacks,
                                                             settings):
    room, alice, bob = world
    settings.MISSED_MESSAGE_EMAIL_MAX_RETRIES = 2
    smtp.stop()
    services.message_post(actor=alice, room=room, content="@bob while the mail server is down")
    [mail_id] = scan(django_capture_on_commit_callbacks)  # the task ran (eager) and retried, all refused
    mail = MissedMessageMail.objects.get(pk=mail_id)
    assert mail.status == "pending" and mail.attempts == 3 and "Connection" in mail.last_error
    assert mail.next_attempt_at > timezone.now()
    smtp.start()
    assert send_missed_mail.apply(args=[str(mail_id)]).get() == "sent"  # a task delivery that comes late
    assert len(smtp.mails) == 1 and "while the mail server is down" in parts(smtp.mails[0])[0]
    # A second delivery of the same task sends nothing again.
    assert send_missed_mail.apply(args=[str(mail_id)]).get() == "skipped" and len(smtp.mails) == 1


def test_the_beat_scan_sends_again_what_smtp_refused(world, smtp, django_capture_on_commit_callbacks, settings):
    room, alice, bob = world
    settings.MISSED_MESSAGE_EMAIL_MAX_RETRIES = 0
    smtp.stop()
    services.message_post(actor=alice, room=room, content="@bob retry me")
    [mail_id] = scan(django_capture_on_commit_callbacks)
    MissedMessageMail.objects.filter(pk=mail_id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    smtp.start()
    result = scan_missed_messages.apply().get()
    assert result["again"] == 1 and len(smtp.mails) == 1
    assert MissedMessageMail.objects.get(pk=mail_id).status == "sent"
