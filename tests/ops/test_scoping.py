"""Who sees which statistics: staff everything, a user their own, an org
admin their org's members and their org's dashboard only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chatroom.models import Room
from chatroom.services.rooms import room_create
from ops.models import DailyStat, SystemMetric, UserStatistic
from orgs.services import org_create
from tests.ops.conftest import DAY, at, make_membership, message

pytestmark = pytest.mark.django_db


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def two_orgs(world, make_user):
    """world: acme (owner olivia, admin adam, member mia; outsider otto);
    plus globex with its own owner and member, and a room with a message each."""
    other_owner, other_member = make_user("gina"), make_user("gus")
    globex = org_create(owner=other_owner, name="globex", display_name="Globex")
    make_membership(globex, other_member, "member")
    acme_room = room_create(owner=world.member, name="acme-room", org=world.org)
    globex_room = room_create(owner=other_member, name="globex-room", org=globex)
    for room, user in ((acme_room, world.member), (globex_room, other_member)):
        UserStatistic.objects.create(user=user, date=DAY, messages_sent=1)
    return world, globex, other_member, acme_room, globex_room


def test_daily_stats_are_staff_only(make_user):
    DailyStat.objects.create(stat_date=DAY, total_users=5)
    staff = make_user("root", is_staff=True)
    assert api(staff).get("/api/v1/stats/daily").json()["results"][0]["total_users"] == 5
    response = api(make_user("plain")).get("/api/v1/stats/daily")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert api().get("/api/v1/stats/daily").status_code in (401, 403)


def test_daily_stats_range_and_bad_input(make_user):
    for day in (DAY, DAY.replace(day=11), DAY.replace(day=12)):
        DailyStat.objects.create(stat_date=day)
    staff = make_user("root", is_staff=True)
    got = api(staff).get("/api/v1/stats/daily", {"since": "2026-11-11", "until": "2026-11-11"}).json()["results"]
    assert [r["stat_date"] for r in got] == ["2026-11-11"]
    for params in ({"since": "not-a-date"}, {"since": "2026-11-12", "until": "2026-11-10"}):
        response = api(staff).get("/api/v1/stats/daily", params)
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_user_stats_the_user_staff_and_their_org_admin(two_orgs, make_user):
    world, globex, other_member, *_ = two_orgs
    url = f"/api/v1/stats/users/{world.member.pk}/daily"
    for reader in (world.member, world.admin, world.owner, make_user("root", is_staff=True)):
        response = api(reader).get(url)
        assert response.status_code == 200, reader.username
        assert response.json()["results"] == [{"date": DAY.isoformat(), "messages_sent": 1, "files_uploaded": 0,
                                               "bytes_transferred": 0, "jobs_run": 0, "online_seconds": 0}]
    # Not a fellow member, a plain member, another org's owner: as if the user did not exist.
    for reader in (world.outsider, other_member, globex.owner):
        response = api(reader).get(url)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api(world.member).get("/api/v1/stats/users/not-a-uuid/daily").status_code == 400


def test_metrics_rows_are_staff_only_and_filtered(make_user):
    for server, value in (("a:1", 1.0), ("b:2", 2.0)):
        SystemMetric.objects.create(metric_name="cpu_usage", metric_value=value, created_at=at(DAY, 1),
                                    server_id=server, tags={"kind": "web"})
    staff = make_user("root", is_staff=True)
    got = api(staff).get("/api/v1/stats/metrics", {"name": "cpu_usage", "server_id": "b:2"}).json()["results"]
    assert got == [{"metric_name": "cpu_usage", "metric_value": 2.0, "tags": {"kind": "web"},
                    "timestamp": "2026-11-10T01:00:00Z", "server_id": "b:2"}]
    assert api(staff).get("/api/v1/stats/metrics", {"name": "bogus"}).status_code == 400
    assert api(make_user("plain")).get("/api/v1/stats/metrics").status_code == 403


def test_an_org_admin_sees_only_their_org_on_the_dashboard(client, two_orgs):
    world, globex, other_member, acme_room, globex_room = two_orgs
    message(acme_room, world.member, at(DAY, 9))
    for _ in range(3):
        message(globex_room, other_member, at(DAY, 9))
    client.force_login(world.admin)

    page = client.get("/staff/dashboard/?range=7d")
    assert page.status_code == 200
    html = page.content.decode()
    assert "acme" in html and "globex" not in html.lower()
    # Staff only: process metrics, health, system events.
    assert 'data-testid="chart-live"' not in html and 'data-testid="health"' not in html
    assert 'data-testid="chart-latency"' not in html and 'data-testid="endpoints"' not in html
    assert 'data-testid="events"' not in html
    # Another org's dashboard: not found; a malformed id too.
    assert client.get(f"/staff/dashboard/?org={globex.pk}").status_code == 404
    assert client.get("/staff/dashboard/?org=nope").status_code == 404
    assert client.get(f"/staff/dashboard/export/activity.csv?org={globex.pk}").status_code == 404
    assert client.get("/staff/dashboard/export/live.csv").status_code == 404
    assert client.get("/staff/dashboard/export/latency.csv").status_code == 404


def test_org_csv_counts_only_the_orgs_messages(client, two_orgs, settings):
    from datetime import timedelta

    from django.utils import timezone

    world, globex, other_member, acme_room, globex_room = two_orgs
    today = timezone.now()
    message(acme_room, world.member, today - timedelta(minutes=5))
    for _ in range(3):
        message(globex_room, other_member, today - timedelta(minutes=5))
    client.force_login(world.admin)
    response = client.get("/staff/dashboard/export/activity.csv?range=24h")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "bucket,members,new messages"
    assert lines[-1] == f"{today.date().isoformat()},3,1"  # admin + member + owner; one message in acme


def test_members_and_outsiders_get_no_dashboard(client, two_orgs):
    world = two_orgs[0]
    for user in (world.member, world.outsider):
        client.force_login(user)
        assert client.get("/staff/dashboard/").status_code == 403


def test_staff_see_every_chart_and_the_health_of_every_part(client, make_user):
    client.force_login(make_user("root", is_staff=True))
    html = client.get("/staff/dashboard/?range=24h").content.decode()
    for key in ("activity", "storage", "live", "latency", "jobs"):
        assert f'data-testid="chart-{key}"' in html
    assert 'data-testid="endpoints"' in html
    for part in ("database", "redis", "channel layer", "workers", "beat", "audit chain", "partitions"):
        assert f'data-part="{part}"' in html
    assert "<svg" in html and "kozea.github.io" not in html  # no script from the internet
    assert 'data-testid="events"' in html
    assert client.get("/admin/").content.decode().count('href="/staff/dashboard/"') == 1


def test_profile_shows_ones_own_statistics(client, make_user):
    me, other = make_user("myself"), make_user("other")
    UserStatistic.objects.create(user=me, date=DAY, messages_sent=42)
    UserStatistic.objects.create(user=other, date=DAY, messages_sent=77)
    client.force_login(me)
    html = client.get("/accounts/profile/").content.decode()
    assert 'data-testid="profile-stats"' in html and "<td>42</td>" in html and "<td>77</td>" not in html


def test_system_events_on_the_dashboard_are_escaped(client, make_user):
    from ops.services.events import event_record

    event_record(event_type="worker", event_name="lost", data={"error": "<script>alert(1)</script>"})
    client.force_login(make_user("root", is_staff=True))
    html = client.get("/staff/dashboard/").content.decode()
    assert "worker.lost" in html and "<script>alert(1)" not in html and "&lt;script&gt;" in html
