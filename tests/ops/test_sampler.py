"""The minute sampler: each process writes every metric under its own
server_id; process start and stop are system events. Plus the other
system events the receivers record."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ops import counters, receivers
from ops.models import METRIC_NAMES, SystemEvent, SystemMetric
from ops.sampler import Sampler
from tests.processes import ROOT, child_env

pytestmark = pytest.mark.django_db(transaction=True)

CHILD = """
import time, django
django.setup()
from ops import counters, sampler
counters.request_done(0.2, 200)
counters.request_done(0.4, 503)
counters.message_posted()
assert sampler.start("web")
time.sleep(2.6)
"""


def test_two_processes_sample_under_their_own_server_ids():
    env = child_env(METRICS_SAMPLE_SECONDS="1", DJANGO_SETTINGS_MODULE="config.settings")
    children = [subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env) for _ in range(2)]
    for child in children:
        assert child.wait(120) == 0

    servers = set(SystemMetric.objects.values_list("server_id", flat=True))
    assert len(servers) == 2
    assert all(s.endswith((f":{children[0].pid}", f":{children[1].pid}")) for s in servers)
    for server in servers:
        rows = SystemMetric.objects.filter(server_id=server)
        assert set(rows.values_list("metric_name", flat=True)) == set(METRIC_NAMES)
        assert rows.count() >= 2 * len(METRIC_NAMES)  # one row per metric per sample, two samples or more
        first = {r.metric_name: r for r in rows.order_by("created_at")[: len(METRIC_NAMES)]}
        assert first["error_rate"].tags["requests"] == 2 and first["error_rate"].metric_value > 0
        assert first["message_rate"].metric_value > 0
        assert first["response_time"].metric_value == pytest.approx(400, rel=0.01)  # p95 in ms
        assert first["memory_usage"].metric_value > 10_000_000 and first["cpu_usage"].tags["kind"] == "web"
    events = SystemEvent.objects.filter(event_type="process")
    assert sorted(events.values_list("event_name", flat=True)) == ["start", "start", "stop", "stop"]
    assert {e.data["server_id"] for e in events} == servers


def test_one_sample_takes_the_window_and_starts_a_new_one():
    counters.take()
    counters.request_done(0.01, 500)
    sampler = Sampler("worker")
    values = sampler.values()
    assert values["error_rate"][1]["requests"] == 1
    assert sampler.values()["error_rate"][1]["requests"] == 0
    rows = sampler.sample()
    assert len(rows) == len(METRIC_NAMES) and SystemMetric.objects.count() == len(METRIC_NAMES)


def test_the_metric_name_check_is_the_seeds():
    from django.db import IntegrityError
    from django.utils import timezone

    with pytest.raises(IntegrityError):
        SystemMetric.objects.create(metric_name="bogus", metric_value=1, created_at=timezone.now())


@pytest.mark.parametrize(("task", "retval", "expected"), [
    ("core.tasks.partitions_maintain",
     {"done": ["system_metrics: create system_metrics_2027_04 [2027-04-01 .. 2027-05-01)",
               "system_metrics: detach, export and drop (past retention) system_metrics_2026_01"], "errors": []},
     [("maintenance", "core.tasks.partitions_maintain"), ("partition", "created"), ("partition", "retired")]),
    ("audit.tasks.audit_anchor", {"ok": True, "checked": 4, "first_broken": None, "anchor": {"head_id": "x"}},
     [("audit", "verification"), ("audit", "anchor")]),
    ("audit.tasks.audit_anchor", {"ok": True, "checked": 0, "anchor": None, "skipped": "unchanged"}, []),
    ("audit.tasks.audit_verify_recent", {"ok": False, "checked": 9, "first_broken": {"id": "y"}},
     [("maintenance", "audit.tasks.audit_verify_recent"), ("audit", "verification")]),
    ("jobs.tasks.recover_stale_jobs", 2, [("worker", "lost")]),
    ("jobs.tasks.recover_stale_jobs", 0, []),
])
def test_finished_tasks_become_system_events(task, retval, expected):
    class Task:
        name = task

    receivers.on_task_postrun(task=Task(), retval=retval, state="SUCCESS")
    assert sorted(SystemEvent.objects.values_list("event_type", "event_name")) == sorted(expected)
