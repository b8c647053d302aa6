"""The admin: remotes created through the service, secrets never shown, job
actions call the services."""

import pytest

from jobs import services
from jobs.models import Job, Remote

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    staff = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.user = staff
    return client


def test_admin_adds_remote_through_service_and_hides_secrets(staff_client, roots):
    response = staff_client.post("/admin/jobs/remote/add/", {
        "name": "dav", "type": "webdav", "description": "",
        "options_json": '{"url": "http://h/", "user": "u", "pass": "adm1n-s3cret"}',
    })
    assert response.status_code == 302, response.content[:2000]
    remote = Remote.objects.get(name="dav")
    assert remote.options == {"url": "http://h/", "user": "u"}
    for url in ("/admin/jobs/remote/", f"/admin/jobs/remote/{remote.pk}/change/"):
        page = staff_client.get(url)
        assert page.status_code == 200
        assert b"adm1n-s3cret" not in page.content
        assert remote.secret_options.encode() not in page.content  # not even the ciphertext
    assert b"pass" in staff_client.get(f"/admin/jobs/remote/{remote.pk}/change/").content


def test_admin_refuses_local_remote_outside_roots(staff_client, roots):
    staff_client.post("/admin/jobs/remote/add/", {"name": "etc", "type": "local", "description": "",
                                                  "options_json": '{"root": "/etc"}'})
    assert not Remote.objects.filter(name="etc").exists()


def test_admin_cancel_action(staff_client, make_local, power):
    make_local("src", {"a": "b"})
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    response = staff_client.post("/admin/jobs/job/", {"action": "cancel_jobs", "_selected_action": [str(job.pk)]})
    assert response.status_code == 302
    assert Job.objects.get(pk=job.pk).status == "cancelled"
    assert staff_client.get(f"/admin/jobs/job/{job.pk}/change/").status_code == 200
    assert staff_client.get("/admin/jobs/joblog/").status_code == 200
    assert staff_client.get("/admin/jobs/schedulerule/").status_code == 200
    assert staff_client.get("/admin/jobs/remotepermission/").status_code == 200
