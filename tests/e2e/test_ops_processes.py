"""Real processes: a uvicorn web process and a Celery worker each sample
under their own server_id, record their start and stop, and /metrics (in
multiprocess mode, shared by both) adds up what the web process counted."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops.models import SystemEvent, SystemMetric
from tests.processes import asgi_servers, celery_worker, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def kinds() -> set:
    return {(tags["kind"], server) for tags, server in SystemMetric.objects.values_list("tags", "server_id")}


def test_a_web_process_and_a_worker_sample_and_metrics_add_up(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"METRICS_SAMPLE_SECONDS": "1", "PROMETHEUS_MULTIPROC_DIR": str(shared), "METRICS_TOKEN": "t0ken"}
    worker = celery_worker(tmp_path, "ops-sampler", **env)
    try:
        with asgi_servers(1, tmp_path, **env) as servers:
            for _ in range(3):
                urllib.request.urlopen(servers[0] + "/healthz", timeout=10).read()
            assert wait_for(lambda: {k for k, _ in kinds()} >= {"web", "worker"}, 60), kinds()
            request = urllib.request.Request(servers[0] + "/metrics", headers={"Authorization": "Bearer t0ken"})
            text = urllib.request.urlopen(request, timeout=10).read().decode()
            web_pid = servers.procs[0].pid
        families = {f.name: f for f in text_string_to_metric_families(text)}
        healthz = [s.value for s in families["teamhub_http_requests"].samples
                   if s.name == "teamhub_http_requests_total" and s.labels["view"] == "healthz"]
        assert healthz and healthz[0] >= 3  # the probe's own polls count too
        web_servers = {server for kind, server in kinds() if kind == "web"}
        assert len(web_servers) == 1 and next(iter(web_servers)).endswith(f":{web_pid}")
        assert len({server for kind, server in kinds() if kind == "worker"}) >= 1
        assert wait_for(lambda: SystemEvent.objects.filter(event_type="process", event_name="stop",
                                                           data__kind="web").exists(), 20)
    finally:
        stop(worker)
    assert SystemEvent.objects.filter(event_type="process", event_name="start", data__kind="worker").exists()
