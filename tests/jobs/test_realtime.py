"""job.progress and job.log frames reach the owner's group and the job's
group through the real Redis channel layer, after commit."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chatroom import realtime
from jobs import services, tasks

pytestmark = pytest.mark.django_db(transaction=True)


async def _drain(layer, channel, timeout=2.0):
    frames = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout)
        except asyncio.TimeoutError:
            return frames
        frames.append(message)


def test_progress_and_log_frames_go_to_owner_and_job_groups(power, make_local):
    make_local("src", {"a.txt": "alpha"})
    make_local("dst")
    layer = get_channel_layer()
    owner_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.user_group(power.id), owner_channel)
    job = services.job_submit(actor=power, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/"})
    job_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.job_group(job.id), job_channel)
    assert tasks.execute(job.id) == "completed"

    for channel in (owner_channel, job_channel):
        messages = async_to_sync(_drain)(layer, channel)
        assert all(m["type"] == realtime.EVENT_TYPE for m in messages)
        frames = [m["frame"] for m in messages]
        progress = [f for f in frames if f["type"] == "job.progress" and f["job"]["id"] == str(job.id)]
        assert progress and progress[-1]["job"]["status"] == "completed" and progress[-1]["job"]["progress"] == 100
        logs = [f for f in frames if f["type"] == "job.log"]
        assert any("Copied" in line["message"] for f in logs for line in f["lines"])
