"""Notifications: the model's constraints, the services (notify, read,
read-all, archive, expiry purge), the user-scoped reads, the v1 API contract,
the page and its nav badge, the live push through the real Redis channel
layer, staff alerts and job outcomes."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from accounts import notifications
from accounts.models import Notification, User
from accounts.services import api_key_create, profile_update, user_ban
from accounts.tasks import purge_expired_notifications
from audit.alerts import alert_staff
from core.errors import NotFound, ValidationFailed
from realtime import broadcast
from tests.accounts.conftest import assert_error, key_client
from tests.layer import GroupListener

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=None)


@pytest.fixture
def bob(make_user):
    return make_user("bob", password=None)


def note(user, **kwargs):
    kwargs.setdefault("type", "system_alert")
    kwargs.setdefault("title", "Hello")
    return notifications.notify(user=user, **kwargs)


def api_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


# --------------------------------------------------------------------------- model and services


def test_notify_stores_the_row_and_presents_it(alice):
    n = note(alice, type="mention", title="t", message="m", data={"room_id": "r", "url": "/chat/"}, priority="high")
    row = Notification.objects.get(pk=n.pk)
    assert (row.user_id, row.type, row.priority, row.is_read, row.is_archived) == (alice.id, "mention", "high", False, False)
    body = notifications.notification_dict(row)
    assert set(body) == {"id", "type", "title", "message", "data", "priority", "is_read", "is_archived", "read_at",
                         "expires_at", "created_at", "url"}
    assert body["id"] == str(n.pk) and body["url"] == "/chat/" and body["data"]["room_id"] == "r"
    assert body["created_at"].endswith("Z") and body["read_at"] is None


def test_the_database_refuses_unknown_types_and_priorities(alice):
    for bad in ({"type": "spam"}, {"priority": "whenever"}):
        fields = {"user": alice, "type": "mention", "title": "x", **bad}
        with pytest.raises(IntegrityError), transaction.atomic():
            Notification.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(user=alice, type="mention", title="x", is_read=True)  # read without read_at


def test_notify_validates_its_input(alice):
    with pytest.raises(ValidationFailed) as info:
        note(alice, type="spam", priority="meh", title=" ")
    assert set(info.value.fields) == {"type", "priority", "title"}
    assert not Notification.objects.exists()


def test_inactive_users_and_opted_out_types_get_nothing_but_alerts_still_arrive(alice, bob):
    User.objects.filter(pk=bob.pk).update(status="banned")
    assert note(bob) is None
    profile_update(actor=alice, user=alice, notifications={"mention": False})
    assert note(alice, type="mention") is None
    assert note(alice, type="new_message") is not None
    profile_update(actor=alice, user=alice, notifications={"system_alert": False})
    assert note(alice, type="system_alert") is not None  # operational alerts cannot be switched off


def test_long_titles_are_cut_to_the_column(alice):
    n = note(alice, title="x" * 400)
    assert len(n.title) == 255 and n.title.endswith("…")


def test_reads_are_scoped_to_their_user(alice, bob):
    mine, theirs = note(alice), note(bob)
    assert list(notifications.notifications_for(user=alice)) == [mine]
    for bad in (theirs.pk, uuid.uuid4(), "not-a-uuid", None):
        with pytest.raises(NotFound):
            notifications.notification_get(user=alice, notification_id=bad)
        with pytest.raises(NotFound):
            notifications.notification_mark_read(user=alice, notification_id=bad)
    theirs.refresh_from_db()
    assert theirs.is_read is False


def test_mark_read_read_all_archive_and_the_unread_count(alice, bob):
    a, b, c = note(alice, title="a"), note(alice, title="b"), note(alice, title="c")
    note(bob)
    assert notifications.unread_count(user=alice) == 3
    read = notifications.notification_mark_read(user=alice, notification_id=a.pk)
    assert read.is_read and read.read_at is not None
    first_read_at = read.read_at
    assert notifications.notification_mark_read(user=alice, notification_id=a.pk).read_at == first_read_at  # idempotent
    assert notifications.unread_count(user=alice) == 2
    assert [n.pk for n in notifications.notifications_for(user=alice, unread=True)] == [c.pk, b.pk]

    archived = notifications.notification_archive(user=alice, notification_id=b.pk)
    assert archived.is_archived and archived.is_read  # archiving reads it too
    assert b.pk not in [n.pk for n in notifications.notifications_for(user=alice)]
    assert [n.pk for n in notifications.notifications_for(user=alice, archived=True)] == [b.pk]
    notifications.notification_archive(user=alice, notification_id=b.pk, archived=False)
    assert b.pk in [n.pk for n in notifications.notifications_for(user=alice)]

    assert notifications.notification_mark_all_read(user=alice) == 1
    assert notifications.unread_count(user=alice) == 0
    assert notifications.unread_count(user=bob) == 1  # someone else's untouched


def test_the_badge_count_is_capped(alice):
    notifications.notify_many(drafts=[notifications.Draft(user_id=alice.id, type="system_alert", title=str(i))
                                      for i in range(notifications.BADGE_CAP + 5)])
    assert notifications.unread_count(user=alice) == notifications.BADGE_CAP + 1
    assert notifications.unread_count(user=alice, cap=None) == notifications.BADGE_CAP + 5
    assert notifications.badge_text(notifications.unread_count(user=alice)) == "99+"


def test_expired_notifications_vanish_at_once_and_the_beat_task_deletes_them(alice):
    now = timezone.now()
    gone = note(alice, title="gone", expires_at=now - timedelta(minutes=1))
    later = note(alice, title="later", expires_at=now + timedelta(days=1))
    forever = note(alice, title="forever")
    assert {n.pk for n in notifications.notifications_for(user=alice)} == {later.pk, forever.pk}
    assert notifications.unread_count(user=alice) == 2
    with pytest.raises(NotFound):
        notifications.notification_mark_read(user=alice, notification_id=gone.pk)
    assert purge_expired_notifications() == 1
    assert set(Notification.objects.values_list("pk", flat=True)) == {later.pk, forever.pk}
    assert purge_expired_notifications() == 0


def test_a_rolled_back_change_takes_its_notification_with_it(alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        note(alice)
        raise RuntimeError("the change failed")
    assert not Notification.objects.exists()


# --------------------------------------------------------------------------- API


def test_api_lists_newest_first_with_cursor_pages_and_the_unread_filter(alice, bob):
    created = [note(alice, title=f"n{i}") for i in range(5)]
    note(bob, title="not yours")
    notifications.notification_mark_read(user=alice, notification_id=created[4].pk)
    client = api_for(alice)

    response = client.get("/api/v1/notifications/?limit=2")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"}
    assert [n["title"] for n in body["results"]] == ["n4", "n3"]
    titles = [n["title"] for n in body["results"]]
    while body["next"]:
        body = client.get("/api/v1/notifications/", {"limit": 2, "cursor": body["next"]}).json()
        titles += [n["title"] for n in body["results"]]
    assert titles == ["n4", "n3", "n2", "n1", "n0"]

    unread = client.get("/api/v1/notifications/?unread=1").json()
    assert [n["title"] for n in unread["results"]] == ["n3", "n2", "n1", "n0"]
    assert all(n["is_read"] is False for n in unread["results"])


def test_api_read_read_all_and_archive(alice):
    a, b = note(alice, title="a"), note(alice, title="b")
    client = api_for(alice)
    response = client.post(f"/api/v1/notifications/{a.pk}/read")
    assert response.status_code == 200
    assert response.json()["id"] == str(a.pk) and response.json()["is_read"] is True
    response = client.post("/api/v1/notifications/read-all")
    assert response.status_code == 200 and response.json() == {"marked": 1, "unread": 0}
    response = client.post(f"/api/v1/notifications/{b.pk}/archive")
    assert response.status_code == 200 and response.json()["is_archived"] is True
    assert client.get("/api/v1/notifications/").json()["results"][0]["id"] == str(a.pk)
    assert [n["id"] for n in client.get("/api/v1/notifications/?archived=1").json()["results"]] == [str(b.pk)]


def test_api_answers_404_in_the_contract_shape_for_foreign_unknown_and_malformed_ids(alice, bob):
    theirs = note(bob)
    client = api_for(alice)
    for bad in (theirs.pk, uuid.uuid4(), "not-a-uuid", "1%20OR%201=1"):
        assert_error(client.post(f"/api/v1/notifications/{bad}/read"), 404, "not_found")
        assert_error(client.post(f"/api/v1/notifications/{bad}/archive"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.is_read is False and theirs.is_archived is False


def test_api_needs_a_login_and_the_notification_scopes_for_keys(alice):
    from rest_framework.test import APIClient

    assert_error(APIClient().get("/api/v1/notifications/"), 401, "not_authenticated")
    assert_error(APIClient().post("/api/v1/notifications/read-all"), 401, "not_authenticated")
    n = note(alice)
    _, reader = api_key_create(user=alice, name="reader", scopes=["notifications:read"])
    _, chat = api_key_create(user=alice, name="chat", scopes=["chat:read", "chat:write"])
    _, writer = api_key_create(user=alice, name="writer", scopes=["notifications:read", "notifications:write"])
    assert key_client(reader).get("/api/v1/notifications/").status_code == 200
    assert_error(key_client(reader).post(f"/api/v1/notifications/{n.pk}/read"), 403, "permission_denied")
    assert_error(key_client(chat).get("/api/v1/notifications/"), 403, "permission_denied")
    assert key_client(writer).post(f"/api/v1/notifications/{n.pk}/read").status_code == 200


def test_the_schema_documents_the_notification_calls(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/notifications/", "/api/v1/notifications/read-all",
                 "/api/v1/notifications/{notification_id}/read"):
        assert path in schema


# --------------------------------------------------------------------------- page and badge


def test_the_nav_badge_shows_the_unread_count_on_every_page(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'id="notification-badge"' in page and 'data-count="0"' in page
    assert "js/notifications.js" in page and 'type="module"' in page
    note(alice), note(alice)
    page = client.get("/").content.decode()
    assert 'data-count="2"' in page and ">2</span>" in page
    page = client.get("/chat/").content.decode()
    assert 'data-count="2"' in page


def test_the_badge_costs_one_bounded_query(client, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    with CaptureQueriesContext(connection) as page:
        client.get("/")
    badge_queries = [q["sql"] for q in page.captured_queries if 'FROM "notifications"' in q["sql"]]
    assert len(badge_queries) == 1 and "LIMIT 100" in badge_queries[0]


def test_anonymous_pages_have_no_badge_and_no_script(client):
    page = client.get("/accounts/login/").content.decode()
    assert "notification-badge" not in page and "notifications.js" not in page


def test_the_page_lists_escapes_and_acts(client, alice, bob):
    evil = note(alice, title="<script>alert(1)</script>", message="<img src=x onerror=alert(2)>")
    other = note(alice, title="second", data={"url": "/jobs/"})
    theirs = note(bob, title="bob's secret")
    client.force_login(alice)

    page = client.get("/notifications/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "bob&#x27;s secret" not in page and "bob's secret" not in page

    response = client.post(f"/notifications/{evil.pk}/read/")
    assert response.status_code == 302
    evil.refresh_from_db()
    assert evil.is_read
    unread_page = client.get("/notifications/?show=unread").content.decode()
    assert "second" in unread_page and "alert(1)" not in unread_page

    # "Open" marks read and follows the notification's own link (same site only).
    response = client.post(f"/notifications/{other.pk}/read/", {"open": "1"})
    assert response.status_code == 302 and response["Location"] == "/jobs/"

    response = client.post(f"/notifications/{evil.pk}/archive/", {"show": "all"})
    assert response.status_code == 302
    assert "alert(1)" not in client.get("/notifications/").content.decode()
    assert "alert(1)" in client.get("/notifications/?show=archived").content.decode()

    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert client.post(f"/notifications/{theirs.pk}/bogus/").status_code == 404
    assert client.get(f"/notifications/{other.pk}/read/").status_code == 405
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_the_page_marks_all_read_and_the_badge_follows(client, alice):
    note(alice), note(alice), note(alice)
    client.force_login(alice)
    assert 'data-count="3"' in client.get("/notifications/").content.decode()
    response = client.post("/notifications/read-all/", follow=True)
    page = response.content.decode()
    assert "Marked 3 notifications read." in page and 'data-count="0"' in page


def test_open_never_redirects_off_site(client, alice):
    n = note(alice, data={"url": "//evil.example/"})
    client.force_login(alice)
    response = client.post(f"/notifications/{n.pk}/read/", {"open": "1"})
    assert response["Location"] == "/notifications/"


def test_the_page_pages_by_cursor(client, alice):
    from accounts import views

    for i in range(views.NOTIFICATION_PAGE_SIZE + 3):
        note(alice, title=f"item-{i:03d}")
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    assert "item-052" in page and "item-002" not in page and 'data-testid="older"' in page
    cursor = re.search(r'cursor=([^"&]+)"', page).group(1)
    older = client.get(f"/notifications/?cursor={cursor}").content.decode()
    assert "item-002" in older and "item-052" not in older
    assert client.get("/notifications/?cursor=garbage").status_code == 302


# --------------------------------------------------------------------------- staff alerts


def test_staff_alerts_reach_every_active_staff_user_as_urgent(make_user):
    staff = make_user("staffer", password=None, is_staff=True)
    banned_staff = make_user("gone", password=None, is_staff=True)
    user_ban(actor=staff, user=banned_staff)
    plain = make_user("plain", password=None)
    alert_staff(code="chain.broken", message="Audit chain broken at 42", details={"at": timezone.now()})
    rows = list(Notification.objects.all())
    assert [(r.user_id, r.type, r.priority) for r in rows] == [(staff.id, "system_alert", "urgent")]
    assert rows[0].data["code"] == "chain.broken" and "at" in rows[0].data["details"]
    assert rows[0].message == "Audit chain broken at 42"
    assert not Notification.objects.filter(user__in=[banned_staff, plain]).exists()
    # The title is stored in English and read in each staff member's language.
    assert rows[0].title == "Alert: chain.broken"
    with translation.override("ko"):
        assert notifications.notification_dict(rows[0])["title"] == "경보: chain.broken"


# --------------------------------------------------------------------------- jobs


@pytest.fixture
def local_remote(tmp_path, settings, make_user):
    from jobs import services as job_services

    allowed = tmp_path / "allowed"
    (allowed / "src").mkdir(parents=True)
    settings.RCLONE_LOCAL_ROOTS = [str(allowed)]
    owner = make_user("jobowner", password=None, role="power_user")
    job_services.remote_create(actor=owner, name="src", type="local", options={"root": str(allowed / "src")})
    return owner


def _run_to_end(owner, **finish):
    from jobs import services as job_services

    job = job_services.job_submit(actor=owner, type="delete", source={"remote": "src", "path": "/"}, max_retries=0)
    job_services.job_claim(job_id=job.id, worker="test:1")
    return job_services.job_finish(job=job, **finish)


def test_a_finished_job_notifies_its_owner(local_remote):
    job = _run_to_end(local_remote, ok=True, stats={"bytes": 0})
    n = Notification.objects.get(user=local_remote)
    assert n.type == "job_finished" and n.priority == "normal"
    assert n.data["job_id"] == str(job.id) and n.data["job_type"] == "delete" and n.data["status"] == "completed"
    assert n.data["url"] == f"/jobs/{job.id}/"


def test_a_failed_job_notifies_its_owner_with_the_error(local_remote):
    job = _run_to_end(local_remote, ok=False, error="rclone exited 3: directory not found")
    n = Notification.objects.get(user=local_remote)
    assert n.type == "job_failed" and n.priority == "high" and job.status == "failed"
    assert n.data["error"] == "rclone exited 3: directory not found" and "directory not found" in n.message


def test_a_cancelled_job_or_a_retry_notifies_nobody(local_remote):
    _run_to_end(local_remote, ok=False, cancelled=True)
    from jobs import services as job_services

    job = job_services.job_submit(actor=local_remote, type="delete", source={"remote": "src", "path": "/"},
                                  max_retries=2)
    job_services.job_claim(job_id=job.id, worker="test:2")
    assert job_services.job_finish(job=job, ok=False, temporary=True, error="network").status == "queued"
    assert not Notification.objects.exists()


def test_a_stale_job_failed_by_recovery_notifies_its_owner(local_remote):
    from jobs import services as job_services
    from jobs.models import Job

    job = job_services.job_submit(actor=local_remote, type="delete", source={"remote": "src", "path": "/"},
                                  max_retries=0)
    job_services.job_claim(job_id=job.id, worker="ghost:1")
    Job.objects.filter(id=job.id).update(heartbeat_at=job.created_at - timedelta(minutes=5))
    job_services.job_recover_stale()
    n = Notification.objects.get(user=local_remote)
    assert n.type == "job_failed" and "ghost:1" in n.data["error"]


# --------------------------------------------------------------------------- live push


@pytest.mark.django_db(transaction=True)
def test_notifications_and_read_state_are_pushed_to_the_users_group_after_commit(make_user):
    alice, bob = make_user("livealice", password=None), make_user("livebob", password=None)
    with GroupListener(broadcast.user_group(alice.id)) as listener:
        n = note(alice, type="mention", title="ping", data={"room_id": "r1"})
        note(bob, title="not for alice")
        with pytest.raises(RuntimeError), transaction.atomic():
            note(alice, title="rolled back")
            raise RuntimeError
        assert listener.frames() == [{"type": "notification", "notification": notifications.notification_dict(n)}]

        listener.clear()
        notifications.notification_mark_read(user=alice, notification_id=n.pk)
        assert listener.frames() == [{"type": "notifications.unread", "unread": 0, "badge": "0"}]
