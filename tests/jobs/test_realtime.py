"""job.progress and job.log frames reach the owner's group and the job's
group through the real Redis channel layer, after commit."""

import pytest

from jobs import services, tasks
from realtime import broadcast
from tests.layer import GroupListener

pytestmark = pytest.mark.django_db(transaction=True)


def test_progress_and_log_frames_go_to_owner_and_job_groups(power, make_local):
    make_local("src", {"a.txt": "alpha"})
    make_local("dst")
    with GroupListener(broadcast.user_group(power.id)) as owner:
        job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                                  destination={"remote": "dst", "path": "/"}, options={"verbose": True})
        with GroupListener(broadcast.job_group(job.id)) as subscriber:
            assert tasks.execute(job.id) == "completed"
            seen = [owner.frames(), subscriber.frames(settle=0)]

    for frames in seen:
        progress = [f for f in frames if f["type"] == "job.progress" and f["job"]["id"] == str(job.id)]
        assert progress and progress[-1]["job"]["status"] == "completed" and progress[-1]["job"]["progress"] == 100
        logs = [f for f in frames if f["type"] == "job.log"]
        assert any("Copied" in line["message"] for f in logs for line in f["lines"])
        assert all(isinstance(line["id"], int) for f in logs for line in f["lines"])


def test_log_batch_is_stored_in_order_and_broadcast_with_the_stored_ids(power, make_local):
    from jobs.models import JobLog

    make_local("src")
    job = services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "/"})
    entries = [{"level": "info", "message": f"file {i}: Copied (new)", "details": {"object": f"f{i}", "size": i}}
               for i in range(300)]
    entries[7] = {"level": "error", "message": "it's \"quoted\", {braces}, and ünïcode", "details": None}
    with GroupListener(broadcast.job_group(job.id)) as subscriber:
        services.job_logs_append(job=job, entries=entries)
        frames = [f for f in subscriber.frames() if f["type"] == "job.log"]

    stored = list(JobLog.objects.filter(job=job).order_by("id").values("id", "level", "message", "details"))
    assert [(s["level"], s["message"], s["details"]) for s in stored] == [
        (e["level"], e["message"], e["details"]) for e in entries]
    sent = [line for f in frames for line in f["lines"]]
    assert [(line["id"], line["message"], line["details"]) for line in sent] == [
        (s["id"], s["message"], s["details"]) for s in stored]
