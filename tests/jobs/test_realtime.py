"""job.progress and job.log frames reach the owner's group and the job's
group through the real Redis channel layer, after commit."""

import pytest

from chatroom import realtime
from jobs import services, tasks
from tests.layer import GroupListener

pytestmark = pytest.mark.django_db(transaction=True)


def test_progress_and_log_frames_go_to_owner_and_job_groups(power, make_local):
    make_local("src", {"a.txt": "alpha"})
    make_local("dst")
    with GroupListener(realtime.user_group(power.id)) as owner:
        job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                                  destination={"remote": "dst", "path": "/"})
        with GroupListener(realtime.job_group(job.id)) as subscriber:
            assert tasks.execute(job.id) == "completed"
            seen = [owner.frames(), subscriber.frames(settle=0)]

    for frames in seen:
        progress = [f for f in frames if f["type"] == "job.progress" and f["job"]["id"] == str(job.id)]
        assert progress and progress[-1]["job"]["status"] == "completed" and progress[-1]["job"]["progress"] == 100
        logs = [f for f in frames if f["type"] == "job.log"]
        assert any("Copied" in line["message"] for f in logs for line in f["lines"])
        assert all(isinstance(line["id"], int) for f in logs for line in f["lines"])
