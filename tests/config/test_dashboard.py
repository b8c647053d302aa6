"""The home dashboard: the user's unread conversations, recent mentions,
running jobs and next scheduled runs, and nobody else's."""

import pytest

from chatroom.services import message_post, room_create, room_join

pytestmark = pytest.mark.django_db


def test_home_lists_unread_rooms_and_mentions_of_the_user_only(client, make_user):
    alice, bob, carol = make_user("alice-home"), make_user("bob-home"), make_user("carol-home")
    room = room_create(owner=alice, name="home-room")
    quiet = room_create(owner=alice, name="quiet-room")
    room_join(user=bob, room=room)
    room_join(user=carol, room=room)
    message_post(actor=bob, room=room, content="hello @alice-home, look")
    message_post(actor=bob, room=room, content="for @carol-home only")
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "Welcome, alice-home" in html
    unread = html.split('data-testid="dash-unread"', 1)[1].split("</section>", 1)[0]
    assert "#home-room" in unread and "quiet-room" not in unread
    mentions = html.split('data-testid="dash-mentions"', 1)[1].split("</section>", 1)[0]
    assert "hello @alice-home, look" in mentions and "for @carol-home only" not in mentions
    # The sidebar is on the home page too, with the count.
    assert 'data-testid="chat-sidebar"' in html and 'data-total="2"' in html
    assert "#quiet-room" in html


def test_home_shows_only_my_active_jobs(client, make_user):
    from jobs.models import Job

    me, other = make_user("me-jobs"), make_user("other-jobs")
    mine = Job.objects.create(user=me, type="copy", status="running", progress=40,
                              payload={"source": {"remote": "src", "path": "/a"}, "destination": {"remote": "dst", "path": "/b"}})
    Job.objects.create(user=me, type="copy", status="completed", payload={"source": {"remote": "done", "path": "/"}})
    Job.objects.create(user=other, type="copy", status="running", payload={"source": {"remote": "theirs", "path": "/"}})
    client.force_login(me)
    html = client.get("/").content.decode()
    jobs = html.split('data-testid="dash-jobs"', 1)[1].split("</section>", 1)[0]
    assert f'data-job-id="{mine.id}"' in jobs and "src:/a" in jobs
    assert "theirs" not in jobs and "done:" not in jobs
    assert "js/dashboard.js" in html


def test_home_lists_my_next_scheduled_runs_soonest_first(client, make_user):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import ScheduleRule

    me, other = make_user("me-sched"), make_user("other-sched")
    template = {"type": "copy", "source": {"remote": "a", "path": "/"}, "destination": {"remote": "b", "path": "/"}}
    now = timezone.now()
    for user, name, hours, active in ((me, "later-run", 5, True), (me, "sooner-run", 1, True),
                                      (me, "paused-run", 2, False), (other, "their-run", 1, True)):
        ScheduleRule.objects.create(user=user, name=name, rule_type="cron", cron_expression="0 * * * *",
                                    job_template=template, is_active=active, next_run_at=now + timedelta(hours=hours))
    client.force_login(me)
    html = client.get("/").content.decode()
    runs = html.split('data-testid="dash-schedules"', 1)[1].split("</section>", 1)[0]
    assert runs.index("sooner-run") < runs.index("later-run")
    assert "paused-run" not in runs and "their-run" not in runs
