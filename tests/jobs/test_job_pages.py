"""The job, remote and schedule pages of issue 17: readable figures, the
buttons a state allows, totals, the dry-run preview and its real run, the
per-type remote forms, the schedule form and its next-runs preview, and
"Run now" saying what it started. Real PostgreSQL, Redis and rclone."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs import services, tasks
from jobs.models import Job, Remote, ScheduleRule
from jobs.secrets import decrypt_options

pytestmark = pytest.mark.django_db

RAW_NUMBER = re.compile(r"\b\d{6,}\b(?! ?(of|%))")  # 209715738-style raw byte counts


@pytest.fixture
def page(client, power):
    client.force_login(power)
    return client


def _text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", "", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.django_db(transaction=True)  # the run's reporter thread writes on its own connection
def test_finished_job_shows_totals_in_readable_units_and_only_retry(page, power, make_local):
    make_local("src", {"a.bin": b"x" * 300_000, "b.txt": "hello"})
    make_local("dst")
    job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/"}, options={"verbose": True})
    queued = page.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-action="cancel">' in queued and 'data-action="retry" hidden' in queued
    assert 'data-state="active"' in queued
    assert tasks.execute(job.id) == "completed"
    html = page.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-state="finished"' in html
    assert 'data-action="cancel" hidden' in html and 'data-action="run" hidden' in html
    # A completed job cannot be retried either (only failed or cancelled ones).
    assert 'data-action="retry" hidden' in html
    totals = html.split('data-testid="job-totals"')[1].split("</section>")[0]
    assert '<dd data-total="bytes">293 KiB</dd>' in totals and '<dd data-total="transfers">2</dd>' in totals
    assert re.search(r'data-total="average">[\d.]+ (B|KiB|MiB|GiB)/s<', totals)
    # No stale speed, ETA or per-file rows once the job ended.
    assert 'data-field="eta" data-testid="job-eta">–<' in html and 'data-field="speed" data-testid="job-speed">–<' in html
    assert "<li><span class=\"name\">" not in html.split('data-field="transferring"')[1].split("</ul>")[0]
    # The verbose log names each file and ends with the summary line, in readable units.
    log = html.split('data-testid="job-log"')[1].split("</pre>")[0]
    assert "a.bin: Copied" in log and "b.txt: Copied" in log
    last = [line for line in log.splitlines() if line.strip()][-1]
    assert "Completed after" in last and "2 files, 293 KiB," in last and "/s average" in last
    assert not RAW_NUMBER.search(_text(page.get(f"/jobs/{job.pk}/"))), "a raw byte count is on the page"
    # Cancelled: retry is offered, cancel is not.
    other = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/none"})
    services.job_cancel(actor=power, job=other)
    html = page.get(f"/jobs/{other.pk}/").content.decode()
    assert 'data-action="retry">' in html and 'data-action="cancel" hidden' in html


@pytest.mark.django_db(transaction=True)
def test_preview_shows_what_would_change_then_runs_for_real(page, power, make_local):
    make_local("src", {"new.txt": "new", "sub/deep.bin": b"y" * 2048})
    _, dst_root = make_local("dst", {"stale.txt": "old"})
    response = page.post("/jobs/new/", {"type": "sync", "source_remote": "src", "source_path": "/",
                                        "destination_remote": "dst", "destination_path": "/", "preview": "1"})
    preview = Job.objects.get()
    assert response.status_code == 302 and preview.options == {"dry_run": True}
    assert tasks.execute(preview.id) == "completed"
    assert sorted(p.name for p in dst_root.iterdir()) == ["stale.txt"]  # a preview changes nothing
    html = page.get(f"/jobs/{preview.pk}/").content.decode()
    box = html.split('data-testid="preview"')[1].split("</section>")[0]
    copy = box.split('data-preview-group="copy"')[1].split("</details>")[0]
    delete = box.split('data-preview-group="delete"')[1].split("</details>")[0]
    assert "new.txt" in copy and "sub/deep.bin" in copy and "2 KiB" in copy and "stale.txt" not in copy
    assert "stale.txt" in delete and "<summary>Would delete <span data-preview-count>1</span>" in delete
    assert 'data-action="run">' in html  # "Run it for real"
    run = page.post(f"/jobs/{preview.pk}/run/")
    real = Job.objects.exclude(pk=preview.pk).get()
    assert run.status_code == 302 and run["Location"] == f"/jobs/{real.pk}/"
    assert real.type == "sync" and real.options == {} and real.source == preview.source
    assert tasks.execute(real.id) == "completed"
    assert sorted(p.name for p in dst_root.iterdir()) == ["new.txt", "sub"]
    # Only a completed preview of one's own runs for real; a real job is no preview.
    again = page.post(f"/jobs/{real.pk}/run/", follow=True)
    assert b"not a preview" in again.content and Job.objects.count() == 2


def test_new_job_form_offers_preview_and_prefills_from_browse(page, make_local):
    make_local("src")
    html = page.get("/jobs/new/?source_remote=src&source_path=/photos/2026").content.decode()
    assert 'data-testid="preview"' in html and 'data-preview-types="sync,move"' in html
    assert 'value="/photos/2026"' in html


def test_remote_forms_per_type_keep_typed_values_and_hide_secrets(page, roots):
    for remote_type, expected in (("local", "opt_root"), ("s3", "opt_secret_access_key"), ("webdav", "opt_vendor"),
                                  ("sftp", "opt_key_pem"), ("ftp", "opt_explicit_tls"), ("http", "opt_url")):
        html = page.get(f"/jobs/remotes/new/?type={remote_type}").content.decode()
        assert f'name="{expected}"' in html, remote_type
        assert "JSON" not in html and 'name="options"' not in html
    s3 = page.get("/jobs/remotes/new/?type=s3").content.decode()
    assert 'type="password" id="opt_secret_access_key"' in s3
    assert '<option value="Minio"' in s3 or '<option value="AWS"' in s3  # providers from rclone itself
    refused = page.post("/jobs/remotes/new/", {"type": "s3", "name": "bad name!", "opt_provider": "AWS",
                                               "opt_access_key_id": "AKIATYPED", "opt_secret_access_key": "sekret-x1",
                                               "opt_region": "eu-west-1", "opt_upload_concurrency": "lots"})
    html = refused.content.decode()
    assert refused.status_code == 200 and not Remote.objects.exists()
    assert 'value="AKIATYPED"' in html and 'value="eu-west-1"' in html and 'value="lots"' in html
    assert "A whole number." in html and "sekret-x1" not in html
    created = page.post("/jobs/remotes/new/", {"type": "s3", "name": "bucket", "opt_provider": "Minio",
                                               "opt_endpoint": "http://127.0.0.1:9/", "opt_access_key_id": "AK",
                                               "opt_secret_access_key": "sekret-x1", "opt_force_path_style": "on"})
    assert created.status_code == 302
    remote = Remote.objects.get(name="bucket")
    assert remote.options == {"provider": "Minio", "endpoint": "http://127.0.0.1:9/", "access_key_id": "AK"}
    assert decrypt_options(remote.secret_options) == {"secret_access_key": "sekret-x1"}
    edit = page.get("/jobs/remotes/bucket/edit/").content.decode()
    assert "sekret-x1" not in edit and 'value="AK"' in edit and "(set)" in edit
    listing = page.get("/jobs/remotes/").content.decode()
    assert "S3 and compatible" in listing and 'data-browse-remote="bucket"' in listing


def test_schedule_form_choices_preview_and_run_now(page, power, make_local):
    make_local("src")
    make_local("dst")
    weekly = page.get("/jobs/schedules/preview", {"repeat": "weekly", "at_time": "02:30", "weekdays": ["1", "5"],
                                                  "timezone": "Europe/Berlin"})
    body = weekly.json()
    assert weekly.status_code == 200 and body["timezone"] == "Europe/Berlin" and len(body["next_runs"]) == 5
    assert body["rule"] == "Every Mon, Fri at 02:30"
    for run in body["next_runs"]:
        local = datetime.fromisoformat(run["at"]).astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (2, 30) and local.isoweekday() in (1, 5)
        assert run["label"].endswith(f"02:30 {local.tzname()}") and run["label"].startswith(local.strftime("%a"))
    cron = page.get("/jobs/schedules/preview", {"repeat": "cron", "cron_expression": "*/20 9 * * *",
                                                "timezone": "Asia/Tokyo"}).json()
    assert [r["label"][-9:] for r in cron["next_runs"][:3]] == ["09:00 JST", "09:20 JST", "09:40 JST"]
    bad = page.get("/jobs/schedules/preview", {"repeat": "cron", "cron_expression": "61 * * * *"})
    assert bad.status_code == 400 and "cron_expression" in bad.json()["error"]["fields"]
    zone = page.get("/jobs/schedules/preview", {"repeat": "daily", "at_time": "02:30", "timezone": "Mars/Base"})
    assert zone.status_code == 400 and "timezone" in zone.json()["error"]["fields"]

    refused = page.post("/jobs/schedules/", {"name": "nightly", "repeat": "daily", "at_time": "25:00",
                                             "timezone": "UTC", "type": "copy", "source_remote": "src",
                                             "destination_remote": "dst", "source_path": "/in"})
    assert refused.status_code == 200 and not ScheduleRule.objects.exists()
    assert b"A time such as 02:30." in refused.content and b'value="nightly"' in refused.content
    assert b'value="/in"' in refused.content
    page.post("/jobs/schedules/", {"name": "nightly", "repeat": "daily", "at_time": "02:30",
                                   "timezone": "Europe/Berlin", "type": "copy", "source_remote": "src",
                                   "source_path": "/", "destination_remote": "dst", "destination_path": "/",
                                   "verbose": "on"})
    rule = ScheduleRule.objects.get()
    assert rule.cron_expression == "30 2 * * *" and rule.timezone == "Europe/Berlin"
    assert rule.job_template["options"] == {"verbose": True}
    listing = page.get("/jobs/schedules/").content.decode()
    assert "Every day at 02:30" in listing and ("CET" in listing or "CEST" in listing)
    ran = page.post(f"/jobs/schedules/{rule.pk}/run/", follow=True).content.decode()
    job = Job.objects.get(schedule=rule)
    assert f'href="/jobs/{job.pk}/"' in ran and "Started a copy job from “nightly”: src:/ → dst:/" in ran


def test_once_and_interval_choices(page, make_local):
    make_local("src")
    soon = (datetime.now(ZoneInfo("Asia/Seoul")) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    once = page.get("/jobs/schedules/preview", {"repeat": "once", "once_at": soon, "timezone": "Asia/Seoul"}).json()
    assert len(once["next_runs"]) == 1 and once["next_runs"][0]["label"].endswith(f"{soon[-5:]} KST")
    every = page.get("/jobs/schedules/preview", {"repeat": "interval", "every_minutes": "90"}).json()
    assert every["rule"] == "Every 90 min" and len(every["next_runs"]) == 5


def test_grant_form_takes_path_rules_as_fields(page, power, make_local, make_user):
    from jobs.models import RemotePermission

    make_local("src")
    alice = make_user("alice")
    refused = page.post("/jobs/remotes/src/permissions/", {
        "username": "alice", "permissions": ["read"], "rule_path_0": "/a/[x]", "rule_deny_0": ["read"]})
    assert refused.status_code == 200 and not RemotePermission.objects.filter(user=alice).exists()
    assert b'value="/a/[x]"' in refused.content and b"wildcards" in refused.content
    nobody = page.post("/jobs/remotes/src/permissions/", {"username": "nobody", "permissions": ["read"]})
    assert b"No user has this name." in nobody.content and b'value="nobody"' in nobody.content
    saved = page.post("/jobs/remotes/src/permissions/", {
        "username": "alice", "permissions": ["read", "write"], "rule_path_0": "/private/*", "rule_deny_0": ["read"],
        "rule_path_1": "", "rule_path_2": "/public/*", "rule_allow_2": ["delete"]})
    assert saved.status_code == 302
    grant = RemotePermission.objects.get(user=alice)
    assert grant.permissions == ["read", "write"]
    assert grant.path_rules == [{"path": "/private/*", "allow": [], "deny": ["read"]},
                                {"path": "/public/*", "allow": ["delete"], "deny": []}]
    html = page.get("/jobs/remotes/src/permissions/").content.decode()
    assert "<code>/private/*</code>" in html and "deny read" in html and "JSON" not in html


@pytest.mark.django_db(transaction=True)
def test_move_preview_lists_what_would_move_without_server_paths(page, power, make_local, roots):
    make_local("src", {"a.txt": "a", "d/b.txt": "bb"})
    make_local("dst")
    for path in ("/", "/d"):
        job = services.job_submit(actor=power, type="move", source={"remote": "src", "path": path},
                                  destination={"remote": "dst", "path": "/in"}, options={"dry_run": True})
        assert tasks.execute(job.id) == "completed"
        html = page.get(f"/jobs/{job.pk}/").content.decode()
        moved = html.split('data-preview-group="move"')[1].split("</details>")[0]
        assert "hidden" not in moved.split(">")[0], moved
        assert str(roots) not in moved  # never the server's own folder
        assert "b.txt" in moved or "(the whole folder)" in moved
