"""daily_stats and user_statistics for a seeded day; the beat task and
stats_backfill are idempotent."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ops.models import DailyStat, UserStatistic
from ops.services.daily_stats import stats_compute_day
from ops.tasks import daily_stats
from tests.ops.conftest import DAY

pytestmark = pytest.mark.django_db


def test_a_seeded_day_has_its_known_counts(known_day):
    stat = stats_compute_day(day=DAY).stat

    assert (stat.total_users, stat.new_users) == (3, 1)
    assert (stat.total_rooms, stat.new_rooms) == (2, 1)
    assert (stat.total_messages, stat.new_messages) == (4, 3)
    assert stat.storage_used_bytes == 350
    # a and c posted; b was online (a socket session); d did not exist yet.
    assert stat.active_users == 3


def test_user_statistics_of_the_day(known_day):
    stats_compute_day(day=DAY)

    rows = {row.user.username: row for row in UserStatistic.objects.filter(date=DAY).select_related("user")}
    assert set(rows) == {"alice", "bob", "carol"}
    assert (rows["alice"].messages_sent, rows["carol"].messages_sent) == (2, 1)
    bob = rows["bob"]
    assert (bob.files_uploaded, bob.jobs_run, bob.bytes_transferred, bob.online_seconds) == (1, 2, 5000, 600)


def test_the_task_run_twice_gives_the_same_row(known_day):
    first = daily_stats(day=DAY.isoformat())
    row = DailyStat.objects.get(stat_date=DAY)
    second = daily_stats(day=DAY.isoformat())

    assert first == second
    assert DailyStat.objects.filter(stat_date=DAY).count() == 1
    again = DailyStat.objects.get(stat_date=DAY)
    assert again.pk == row.pk and again.new_messages == row.new_messages == 3


def test_backfill_run_twice_fills_each_day_once(known_day):
    since, until = DAY - timedelta(days=1), DAY + timedelta(days=1)
    out = StringIO()
    call_command("stats_backfill", since=since.isoformat(), until=until.isoformat(), stdout=out)
    first = list(DailyStat.objects.order_by("stat_date").values())
    first_users = sorted(UserStatistic.objects.values_list("user__username", "date", "messages_sent"))
    call_command("stats_backfill", since=since.isoformat(), until=until.isoformat(), stdout=StringIO())

    assert [row["stat_date"] for row in first] == [since, DAY, until]
    assert list(DailyStat.objects.order_by("stat_date").values()) == first
    assert sorted(UserStatistic.objects.values_list("user__username", "date", "messages_sent")) == first_users
    assert [r["total_users"] for r in first] == [2, 3, 4]
    assert f"{DAY}: users 3" in out.getvalue()


def test_a_row_for_a_user_with_nothing_left_that_day_goes(known_day):
    stats_compute_day(day=DAY)
    from chatroom.models import Message

    Message.objects.filter(user=known_day["c"]).delete()
    stats_compute_day(day=DAY)
    assert not UserStatistic.objects.filter(user=known_day["c"], date=DAY).exists()


@pytest.mark.parametrize("args", [{"since": "yesterday"}, {"since": "2026-11-10", "until": "2026-11-01"}])
def test_backfill_refuses_bad_dates(args):
    with pytest.raises(CommandError):
        call_command("stats_backfill", **args, stdout=StringIO())


def test_an_api_request_makes_its_user_active_that_day(make_user):
    from django.utils import timezone
    from rest_framework.test import APIClient

    from accounts.services import api_login
    from ops.sampler import Sampler

    quiet, caller = make_user("quiet"), make_user("caller")
    from accounts.models import DeviceSession, User

    _, token = api_login(user=caller, device_name="phone")
    User.objects.update(last_active_at=None)
    DeviceSession.objects.update(last_used_at=timezone.now() - timedelta(days=3))
    today = timezone.now().date()
    assert stats_compute_day(day=today).stat.active_users == 0

    client = APIClient()
    assert client.get("/api/v1/stats/daily", HTTP_AUTHORIZATION=f"Token {token}").status_code == 403
    # Only the request's own trace is left.
    DeviceSession.objects.update(last_used_at=timezone.now() - timedelta(days=3))
    User.objects.update(last_active_at=None)
    Sampler("web").sample()  # the minute's requests go to Redis

    assert stats_compute_day(day=today).stat.active_users == 1
    assert quiet.pk not in {row.user_id for row in UserStatistic.objects.all()}
