"""The jobs API (api.md "rclone jobs"): paths, shapes, codes, scopes, and no secrets."""


import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from jobs import tasks
from jobs.models import Job

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_remote_create_list_and_secrets_never_returned(power, roots, make_user):
    api = client_for(power)
    response = api.post("/api/v1/remotes/", {"name": "dav", "type": "webdav",
                                            "options": {"url": "http://h/", "user": "u", "pass": "p4ss-w0rd-x"}},
                        format="json")
    assert response.status_code == 201, response.content
    listing = api.get("/api/v1/remotes/")
    assert listing.status_code == 200
    body = listing.json()
    assert set(body) == {"results", "next"}
    assert [r["name"] for r in body["results"]] == ["dav"]
    assert "p4ss-w0rd-x" not in response.content.decode() + listing.content.decode()
    assert body["results"][0]["secret_options_set"] == ["pass"]
    # A plain user may not create, and does not see remotes without a grant.
    plain = client_for(make_user("plain"))
    denied = plain.post("/api/v1/remotes/", {"name": "m", "type": "memory", "options": {}}, format="json")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert plain.get("/api/v1/remotes/").json()["results"] == []


def test_remote_validation_errors_use_the_contract_shape(power, roots, tmp_path):
    response = client_for(power).post("/api/v1/remotes/", {"name": "bad:name", "type": "local",
                                                           "options": {"root": "/etc"}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


# Transactional: the run's reporter writes from a thread of its own, on its
# own connection, which must see the claim committed (as in a worker).
@pytest.mark.django_db(transaction=True)
def test_job_submit_detail_logs_and_cancel(power, make_local):
    make_local("src", {"a.txt": "x"})
    make_local("dst")
    api = client_for(power)
    response = api.post("/api/v1/jobs/", {"type": "copy", "source": {"remote": "src", "path": "/"},
                                          "destination": {"remote": "dst", "path": "/"}, "priority": 7,
                                          "options": {"checksum": True, "verbose": True}}, format="json")
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"id", "status"} and response.json()["status"] == "queued"
    job_id = response.json()["id"]
    detail = api.get(f"/api/v1/jobs/{job_id}/").json()
    for key in ("id", "type", "status", "priority", "progress", "source", "destination", "options", "stats", "error",
                "retry_count", "max_retries", "scheduled_for", "created_at", "started_at", "completed_at",
                "cancelled_at"):
        assert key in detail, key
    assert set(detail["stats"]) >= {"bytes", "total_bytes", "speed", "eta", "transfers", "total_transfers", "errors",
                                    "checks"}
    assert detail["priority"] == 7 and detail["options"] == {"checksum": True, "verbose": True}
    assert api.get("/api/v1/jobs/?status=queued").json()["results"][0]["id"] == job_id
    assert api.get("/api/v1/jobs/?status=running").json()["results"] == []
    cancel = api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    retry = api.post(f"/api/v1/jobs/{job_id}/retry")
    assert retry.status_code == 200 and retry.json()["status"] == "queued"
    assert tasks.execute(job_id) == "completed"
    logs = api.get(f"/api/v1/jobs/{job_id}/logs/").json()
    assert set(logs) == {"results", "next"}
    assert any("Copied" in line["message"] for line in logs["results"])
    first = logs["results"][0]["id"]
    after = api.get(f"/api/v1/jobs/{job_id}/logs/?after={first}").json()["results"]
    assert all(line["id"] > first for line in after)


def test_other_users_jobs_are_not_found(power, make_user, make_local):
    make_local("src", {"a.txt": "x"})
    job = client_for(power).post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "/"}},
                                 format="json").json()
    other = client_for(make_user("eve"))
    assert other.get(f"/api/v1/jobs/{job['id']}/").status_code == 404
    assert other.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 404
    assert Job.objects.get(id=job["id"]).status == "queued"


def test_traversal_through_the_api_is_a_validation_error(power, make_local):
    make_local("src")
    api = client_for(power)
    response = api.post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "../../etc"}},
                        format="json")
    assert response.status_code == 400 and "source.path" in response.json()["error"]["fields"]
    browse = api.get("/api/v1/remotes/src/browse?path=../..")
    assert browse.status_code == 400


def test_browse_lists_only_readable_entries_and_is_cached(power, make_user, make_local):
    user = make_user("reader")
    remote, root = make_local("src", {"pub/a.txt": "a", "hidden/b.txt": "b", "top.txt": "t"})
    from jobs import services

    services.permission_grant(actor=power, remote=remote, user=user, permissions=["read"],
                              path_rules=[{"path": "/hidden", "deny": ["read"]}])
    api = client_for(user)
    body = api.get("/api/v1/remotes/src/browse?path=/").json()
    assert [(e["name"], e["is_dir"]) for e in body["entries"]] == [("pub", True), ("top.txt", False)]
    assert body["entries"][1]["path"] == "/top.txt" and body["entries"][1]["size"] == 1
    assert api.get("/api/v1/remotes/src/browse?path=/hidden").status_code == 403
    (root / "new.txt").write_text("n")
    again = api.get("/api/v1/remotes/src/browse?path=/").json()
    assert "new.txt" not in [e["name"] for e in again["entries"]]  # served from the 60 s cache


def test_remote_test_connection_runs_a_real_listing(power, make_local, roots):
    make_local("src", {"a.txt": "a"})
    api = client_for(power)
    assert api.post("/api/v1/remotes/src/test").json() == {"ok": True, "entries": 1}
    api.post("/api/v1/remotes/", {"name": "dead", "type": "webdav", "options": {"url": "http://127.0.0.1:9/"}},
             format="json")
    result = api.post("/api/v1/remotes/dead/test").json()
    assert result["ok"] is False and "connection refused" in result["error"]


def test_permissions_endpoint(power, make_user, make_local):
    user = make_user("grantee")
    make_local("src")
    api = client_for(power)
    response = api.post("/api/v1/remotes/src/permissions/", {"user_id": str(user.id), "permissions": ["read"],
                                                             "path_rules": [{"path": "/x/*", "allow": [],
                                                                             "deny": ["read"]}]}, format="json")
    assert response.status_code == 201, response.content
    listed = api.get("/api/v1/remotes/src/permissions/").json()["results"]
    assert {g["user_id"] for g in listed} == {str(power.id), str(user.id)}
    bad = api.post("/api/v1/remotes/src/permissions/", {"user_id": str(user.id), "permissions": ["root"]},
                   format="json")
    assert bad.status_code == 400
    # The grantee (read only) cannot see or change grants.
    assert client_for(user).get("/api/v1/remotes/src/permissions/").status_code == 404


def test_api_key_scopes(power, make_local):
    make_local("src")
    _, read_key = api_key_create(user=power, name="ro", scopes=["jobs:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {read_key}")
    assert client.get("/api/v1/jobs/").status_code == 200
    response = client.post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "/"}},
                           format="json")
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_schedule_create_preview_pause_resume(power, make_local):
    make_local("src")
    make_local("dst")
    api = client_for(power)
    template = {"type": "copy", "source": {"remote": "src", "path": "/"}, "destination": {"remote": "dst", "path": "/"}}
    response = api.post("/api/v1/schedules/", {"name": "nightly", "rule_type": "cron", "cron_expression": "30 2 * * *",
                                               "timezone": "Asia/Seoul", "job_template": template, "is_active": True},
                        format="json")
    assert response.status_code == 201, response.content
    rule = response.json()
    runs = api.get(f"/api/v1/schedules/{rule['id']}/preview").json()["next_runs"]
    assert len(runs) == 5
    # 02:30 in Seoul (UTC+9) is 17:30 UTC the day before.
    assert all(r.endswith("T17:30:00Z") for r in runs)
    paused = api.patch(f"/api/v1/schedules/{rule['id']}/", {"is_active": False}, format="json").json()
    assert paused["is_active"] is False and paused["next_run_at"] is None
    resumed = api.patch(f"/api/v1/schedules/{rule['id']}/", {"is_active": True}, format="json").json()
    assert resumed["next_run_at"] == runs[0]
    bad = api.post("/api/v1/schedules/", {"name": "x", "rule_type": "cron", "cron_expression": "99 * * * *",
                                          "timezone": "UTC", "job_template": template}, format="json")
    assert bad.status_code == 400
    assert api.delete(f"/api/v1/schedules/{rule['id']}/").status_code == 204


def test_schema_lists_the_jobs_paths(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    for path in (b"/api/v1/remotes/", b"/api/v1/jobs/{id}/cancel", b"/api/v1/schedules/{id}/preview"):
        assert path in schema.content


def test_scheduled_for_and_priority_validation(power, make_local):
    make_local("src")
    api = client_for(power)
    later = api.post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "/"},
                                       "scheduled_for": "2099-01-01T00:00:00Z"}, format="json")
    assert later.status_code == 201 and later.json()["status"] == "pending"
    naive = api.post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "/"},
                                       "scheduled_for": "2099-01-01T00:00:00"}, format="json")
    assert naive.status_code == 400 and "scheduled_for" in naive.json()["error"]["fields"]
    for priority in (0, 11, "5"):
        bad = api.post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "/"},
                                         "priority": priority}, format="json")
        assert bad.status_code == 400, priority
    raw_flag = api.post("/api/v1/jobs/", {"type": "delete", "source": {"remote": "src", "path": "/"},
                                          "options": {"--config": "/etc/x"}}, format="json")
    assert raw_flag.status_code == 400


def test_schedule_template_must_be_permitted(power, make_user, make_local):
    make_local("src")
    api = client_for(make_user("nobody"))
    response = api.post("/api/v1/schedules/", {"name": "x", "rule_type": "interval", "interval_seconds": 3600,
                                               "timezone": "UTC",
                                               "job_template": {"type": "delete", "source": {"remote": "src",
                                                                                             "path": "/"}}},
                        format="json")
    assert response.status_code == 404  # the remote is invisible to this user
