"""The ops tables in the admin: lists for staff (with a view permission),
nothing for anyone else; no add, change or delete of machine-written rows;
JSON details shown as escaped key: value lists, never a dict's repr."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from ops.models import DailyStat, PerformanceMetric, SystemEvent, SystemMetric, UserStatistic
from tests.ops.conftest import DAY, at

pytestmark = pytest.mark.django_db

MODELS = ["dailystat", "userstatistic", "systemmetric", "performancemetric", "systemevent"]


@pytest.fixture
def rows(make_user):
    member = make_user("mia")
    made = {
        "dailystat": DailyStat.objects.create(stat_date=DAY, total_users=12, storage_used_bytes=5_000_000),
        "userstatistic": UserStatistic.objects.create(user=member, date=DAY, messages_sent=7, online_seconds=5400,
                                                      bytes_transferred=2048),
        "systemmetric": SystemMetric.objects.create(metric_name="memory_usage", metric_value=150_000_000.0,
                                                    created_at=at(DAY, 3), server_id="web-1:42",
                                                    tags={"unit": "bytes_rss", "kind": "web"}),
        "performancemetric": PerformanceMetric.objects.create(
            metric_name="http_request_duration", metric_type="histogram", service_name="http", unit="ms",
            value=Decimal("87.5"), created_at=at(DAY, 3),
            tags={"view": "chat:room", "count": 31, "errors": 0, "server_id": "web-1:42", "kind": "web"}),
        "systemevent": SystemEvent.objects.create(
            event_type="maintenance", event_name="core.tasks.partitions_maintain",
            data={"state": "SUCCESS", "result": {"done": ["create system_metrics_2027_04"], "errors": []},
                  "note": "<script>alert(1)</script>"},
            metadata={"server_id": "worker-1:7"}),
    }
    SystemMetric.objects.create(metric_name="cpu_usage", metric_value=3.5, created_at=at(DAY, 3),
                                server_id="worker-9:1", tags={"unit": "percent_of_one_core", "kind": "worker"})
    return made


@pytest.fixture
def staff(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def url(model: str, suffix: str = "") -> str:
    return f"/admin/ops/{model}/{suffix}"


@pytest.mark.parametrize("model", MODELS)
def test_staff_read_the_list_and_a_row_but_change_nothing(staff, rows, model):
    obj = rows[model]
    listing = staff.get(url(model))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f"/admin/ops/{model}/{obj.pk}/change/" in html
    # No add button (here or in the sidebar), no (delete) actions.
    assert f"/admin/ops/{model}/add/" not in html and 'name="action"' not in html

    detail = staff.get(url(model, f"{obj.pk}/change/"))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert 'name="_save"' not in page and "deletelink" not in page  # view only
    assert staff.get(url(model, "add/")).status_code == 403
    assert staff.post(url(model, f"{obj.pk}/change/"), {}).status_code == 403
    assert staff.post(url(model, f"{obj.pk}/delete/"), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_staff_with_only_view_permissions_read_the_lists(client, make_user, rows):
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(content_type__app_label="ops",
                                                          codename__startswith="view_"))
    client.force_login(viewer)
    for model in MODELS:
        assert client.get(url(model)).status_code == 200, model


def test_staff_without_permissions_and_non_staff_are_refused(client, make_user, rows):
    client.force_login(make_user("bare", is_staff=True))
    for model in MODELS:
        assert client.get(url(model)).status_code == 403, model
    client.force_login(make_user("plain"))
    for model in MODELS:
        response = client.get(url(model))
        assert response.status_code == 302 and "/admin/login/" in response["Location"], model
        assert client.get(url(model, f"{rows[model].pk}/change/")).status_code == 302


def test_the_lists_show_readable_values(staff, rows):
    html = staff.get(url("dailystat")).content.decode()
    assert "4.8 MiB" in html  # binary units, as on the job pages (jobs.figures)
    html = staff.get(url("userstatistic")).content.decode()
    assert "1 h 30 min" in html and "mia" in html
    html = staff.get(url("systemmetric")).content.decode()
    assert "143 MiB" in html  # whole numbers from 100 of a unit up
    html = staff.get(url("performancemetric")).content.decode()
    assert "87.5\xa0ms" in html and "chat:room" in html and "web-1:42" in html


def test_filters_search_and_date_hierarchy(staff, rows):
    def listed(model, **params):
        response = staff.get(url(model), params)
        assert response.status_code == 200, params
        return response.context["cl"].result_count

    assert listed("systemmetric", metric_name="cpu_usage") == 1
    assert listed("systemmetric", kind="worker") == 1
    assert listed("systemmetric", q="web-1:") == 1
    assert listed("systemmetric", created_at__year=DAY.year, created_at__month=DAY.month) == 2
    assert listed("systemmetric", created_at__year=DAY.year - 1) == 0
    assert listed("performancemetric", q="chat:room") == 1
    assert listed("performancemetric", q="no-such-view") == 0
    assert listed("performancemetric", service_name="channels") == 0
    assert listed("systemevent", event_type="maintenance") == 1
    assert listed("systemevent", q="system_metrics_2027_04") == 1  # found in its details
    assert listed("userstatistic", q="mia") == 1
    assert listed("dailystat", q=DAY.isoformat()[:7]) == 1


def test_event_details_are_key_value_lists_escaped(staff, rows):
    event = rows["systemevent"]
    listing = staff.get(url("systemevent")).content.decode()
    assert "state: SUCCESS" in listing and "result.done: create system_metrics_2027_04" in listing
    detail = staff.get(url("systemevent", f"{event.pk}/change/")).content.decode()
    assert '<ul class="kv">' in detail and '<span class="k">state</span>: SUCCESS' in detail
    for page in (listing, detail):
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        # Never a JSON text or a Python dict's repr of the details.
        assert "{&#x27;" not in page and "{'state'" not in page and '{"state"' not in page
        assert "&quot;state&quot;" not in page
    assert "worker-1:7" in detail


def test_the_metric_tags_are_key_value_lists(staff, rows):
    metric = rows["performancemetric"]
    page = staff.get(url("performancemetric", f"{metric.pk}/change/")).content.decode()
    assert '<span class="k">view</span>: chat:room' in page and '<span class="k">count</span>: 31' in page
    assert "&quot;view&quot;" not in page and "{&#x27;view" not in page


def test_the_admin_index_lists_the_ops_tables(staff, rows):
    html = staff.get("/admin/").content.decode()
    for model in MODELS:
        assert f'href="/admin/ops/{model}/"' in html
    assert 'data-testid="dashboard-link"' in html
