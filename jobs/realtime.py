"""Job frames for the socket (api.md): ``job.progress`` ``{job}`` and
``job.log`` ``{job_id, lines}``. Each goes to the job owner's sockets and to
sockets subscribed to the job, after commit, through the one broadcasting
module (realtime.broadcast)."""

from __future__ import annotations

from jobs.presenters import job_dict
from realtime.broadcast import broadcast, job_group, user_group


def _groups(job) -> list[str]:
    return [user_group(job.user_id), job_group(job.id)]


def job_progress(job) -> None:
    broadcast(_groups(job), {"type": "job.progress", "job": job_dict(job)})


def job_log(job, lines: list[dict]) -> None:
    broadcast(_groups(job), {"type": "job.log", "job_id": str(job.id), "lines": lines})
