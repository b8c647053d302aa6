"""The socket's job frame (api.md, "WebSocket"), registered with the socket
(realtime.registry) by JobsConfig.ready: ``job.subscribe {job_id}`` answers
with the job's current ``job.progress``, then the socket receives the job's
live ``job.progress`` and ``job.log`` (jobs.realtime)."""

from __future__ import annotations

from jobs.presenters import job_dict
from jobs.selectors import job_for
from realtime import broadcast, registry
from realtime.framing import uuid_field


def job_subscribe(user, frame: dict) -> registry.Subscribe:
    """The job (the user's own, or any for staff) as a ``job.progress`` frame
    to start from; the socket joins the job's group before sending it."""
    job = job_for(user, uuid_field(frame, "job_id"))
    return registry.Subscribe(groups=[broadcast.job_group(job.id)],
                              frame={"type": "job.progress", "job": job_dict(job)})


def register() -> None:
    registry.register_frame("job.subscribe", job_subscribe)
