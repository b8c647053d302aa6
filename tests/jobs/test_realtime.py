"""job.progress and job.log frames reach the owner's group and the job's
group through the real Redis channel layer, after commit, and a socket
that sent job.subscribe."""

import pytest
from asgiref.sync import sync_to_async

from jobs import services, tasks
from realtime import broadcast
from tests.chatroom.live_helpers import connect, until
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


@pytest.mark.usefixtures("close_async_db_connections")
async def test_job_subscribe_over_the_socket_starts_from_the_job_then_follows_it(power, make_local, make_user):
    """Staff may follow anyone's job: the live frame reaches the staff
    socket only through the job's group, which job.subscribe joined."""
    await sync_to_async(make_local)("src")
    job = await sync_to_async(services.job_submit)(actor=power, type="delete", source={"remote": "src", "path": "/"})
    staff = await sync_to_async(make_user)("watcher", is_staff=True)
    sock, _ = await connect(staff)
    await sock.send_json_to({"type": "job.subscribe", "job_id": str(job.id)})
    start = await until(sock, "job.progress")
    assert start["job"]["id"] == str(job.id) and start["job"]["status"] == job.status
    await sync_to_async(services.job_cancel)(actor=power, job=job)
    live = await until(sock, "job.progress")
    assert live["job"]["id"] == str(job.id) and live["job"]["status"] == "cancelled"
    await sock.disconnect()
