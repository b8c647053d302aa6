"""The jobs pages render and go through the services."""

import pytest

from jobs import services
from jobs.models import Job, Remote, ScheduleRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client, power):
    client.force_login(power)
    return client


def test_pages_render(page, make_local, power):
    make_local("src", {"a.txt": "a"})
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    for url in ("/jobs/", "/jobs/?status=queued", "/jobs/new/", f"/jobs/{job.pk}/", "/jobs/remotes/",
                "/jobs/remotes/src/permissions/", "/jobs/schedules/"):
        response = page.get(url)
        assert response.status_code == 200, url
    assert b"queued" in page.get(f"/jobs/{job.pk}/").content


def test_new_job_form_submits_through_the_service(page, make_local):
    make_local("src", {"a.txt": "a"})
    make_local("dst")
    response = page.post("/jobs/new/", {"type": "copy", "source_remote": "src", "source_path": "/",
                                        "destination_remote": "dst", "destination_path": "/", "priority": "6",
                                        "bwlimit": "1M", "include": "*.txt\n"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.priority == 6 and job.options == {"bwlimit": "1M", "include": ["*.txt"]}
    bad = page.post("/jobs/new/", {"type": "copy", "source_remote": "src", "source_path": "../x",
                                   "destination_remote": "dst", "destination_path": "/"})
    assert bad.status_code == 200 and Job.objects.count() == 1
    cancel = page.post(f"/jobs/{job.pk}/cancel/")
    assert cancel.status_code == 302 and Job.objects.get().status == "cancelled"
    assert b'data-testid="log-hint"' in page.get(f"/jobs/{job.pk}/").content
    # "Log every file" is the verbose option.
    page.post("/jobs/new/", {"type": "copy", "source_remote": "src", "source_path": "/", "destination_remote": "dst",
                             "destination_path": "/v", "verbose": "on"})
    verbose = Job.objects.exclude(pk=job.pk).get()
    assert verbose.options == {"verbose": True}
    assert b'data-testid="log-hint"' not in page.get(f"/jobs/{verbose.pk}/").content


def test_remote_and_schedule_forms(page, roots):
    (roots / "data").mkdir()
    response = page.post("/jobs/remotes/new/", {"name": "data", "type": "local", "opt_root": f"{roots}/data"})
    assert response.status_code == 302 and Remote.objects.filter(name="data").exists()
    refused = page.post("/jobs/remotes/new/", {"name": "etc", "type": "local", "opt_root": "/etc"})
    assert refused.status_code == 200 and not Remote.objects.filter(name="etc").exists()
    assert b'value="/etc"' in refused.content and b'value="etc"' in refused.content
    page.post("/jobs/schedules/", {"name": "n", "repeat": "hourly", "at_minute": "0", "timezone": "UTC",
                                   "type": "delete", "source_remote": "data", "source_path": "/tmp"})
    rule = ScheduleRule.objects.get()
    assert rule.cron_expression == "0 * * * *" and rule.job_template["source"] == {"remote": "data", "path": "/tmp"}
    page.post(f"/jobs/schedules/{rule.pk}/pause/")
    assert ScheduleRule.objects.get().is_active is False
    page.post(f"/jobs/schedules/{rule.pk}/run/")
    assert Job.objects.filter(schedule=rule).count() == 1


def test_pages_need_login(client):
    assert client.get("/jobs/").status_code == 302
