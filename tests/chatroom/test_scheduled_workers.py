"""Send later with real Celery worker processes (issue 18): two workers,
each with its own embedded beat (two beats running the due-scan every
second), plus every send task and scan delivered again by hand, post each
scheduled message exactly once; and a worker SIGKILLed in the middle of a
send (blocked inside the post on the room's posting lock) leaves no
message, and the next worker sends it, once."""

import os
import signal
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import user_create
from chatroom import services
from chatroom.models import Message, MessageClientId, ScheduledMessage
from chatroom.services import scheduled_messages
from config.celery import app as celery_app
from config.embedded import postgres_url
from tests.processes import celery_worker, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

SEND_DEADLINE = 90  # worker start-up on a loaded machine, then a scan every second


@pytest.fixture
def room_pair(db):
    alice = user_create(username="alice", email="alice@example.com", password=None)
    bob = user_create(username="bob", email="bob@example.com", password=None)
    room = services.room_create(owner=alice, name="later")
    services.room_join(user=bob, room=room)
    return room, alice, bob


def schedule(author, room, content):
    scheduled = scheduled_messages.scheduled_create(actor=author, room_id=room.id, content=content,
                                                    send_at=timezone.now() + timedelta(minutes=5))
    return scheduled


def make_due(*ids):
    ScheduledMessage.objects.filter(id__in=ids).update(send_at=timezone.now() - timedelta(seconds=1))


def raw_connection(*, autocommit: bool = False):
    db = connection.settings_dict
    return psycopg.connect(postgres_url(host=db["HOST"], port=db["PORT"], name=db["NAME"], user=db["USER"],
                                        password=db.get("PASSWORD") or ""), autocommit=autocommit)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def test_two_beats_and_duplicated_tasks_send_each_exactly_once(room_pair, tmp_path):
    room, alice, bob = room_pair
    batch = [schedule(alice if i % 2 else bob, room, f"batch message {i}") for i in range(12)]
    ids = [s.id for s in batch]
    workers = [celery_worker(tmp_path, f"w{i}", beat=True) for i in (1, 2)]
    try:
        make_due(*ids)
        # The same work delivered again and again, on top of both beats.
        for scheduled_id in ids:
            for _ in range(2):
                celery_app.send_task("chatroom.tasks.send_scheduled_message", args=[str(scheduled_id)])
        for _ in range(4):
            celery_app.send_task("chatroom.tasks.scheduled_messages_due")
        done = wait_for(lambda: ScheduledMessage.objects.filter(id__in=ids, status="sent").count() == len(ids),
                        SEND_DEADLINE)
        logs = "\n".join((tmp_path / f"w{i}.log").read_text()[-2000:] for i in (1, 2))
        assert done, logs
        # Let the duplicates that are still queued run too, then count.
        wait_for(lambda: False, 3)
    finally:
        for worker in workers:
            stop(worker)
    for scheduled in ScheduledMessage.objects.filter(id__in=ids):
        posted = Message.objects.filter(room=room, content=scheduled.content)
        assert posted.count() == 1, scheduled.content
        assert posted.get().id == scheduled.message_id and posted.get().user_id == scheduled.author_id
    assert MessageClientId.objects.filter(client_id__startswith="scheduled:").count() == len(ids)


def test_a_worker_killed_mid_send_leaves_nothing_and_the_next_sends_once(room_pair, tmp_path):
    room, alice, bob = room_pair
    scheduled = schedule(alice, room, "sent after a crash")
    blocker = raw_connection()
    # pg_stat_activity is read per transaction: watch from outside the blocker's.
    watcher = raw_connection(autocommit=True)
    first = second = None
    try:
        # Hold the room's posting lock (chat_message_post's advisory lock):
        # the worker's post waits inside its transaction, mid-send.
        blocker.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"chat.post.{room.id}"])
        first = celery_worker(tmp_path, "doomed", beat=True, DB_APPLICATION_NAME="sendlater-doomed")
        make_due(scheduled.id)

        def waiting_backend():
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sendlater-doomed' "
                "AND wait_event_type = 'Lock'").fetchone()
            return row[0] > 0

        assert wait_for(waiting_backend, SEND_DEADLINE), (tmp_path / "doomed.log").read_text()[-3000:]
        kill_group(first)
        blocker.rollback()  # the dead worker's backend gets the lock, and never commits
        assert wait_for(lambda: not watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sendlater-doomed'").fetchone()[0], 30)
        assert ScheduledMessage.objects.get(id=scheduled.id).status == "scheduled"
        assert not Message.objects.filter(content="sent after a crash").exists()

        second = celery_worker(tmp_path, "survivor", beat=True)
        assert wait_for(lambda: ScheduledMessage.objects.get(id=scheduled.id).status == "sent", SEND_DEADLINE), \
            (tmp_path / "survivor.log").read_text()[-3000:]
    finally:
        blocker.close()
        watcher.close()
        for proc in (first, second):
            if proc is not None:
                stop(proc)
    posted = Message.objects.filter(room=room, content="sent after a crash")
    assert posted.count() == 1
    assert ScheduledMessage.objects.get(id=scheduled.id).message_id == posted.get().id
