"""GET /metrics: refused without the token or an allowed address; parsed
with prometheus-client's own parser; several processes add up in
multiprocess mode."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops.models import SystemEvent
from tests.processes import ROOT, child_env

pytestmark = pytest.mark.django_db


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Token s3cret"}])
def test_refused_without_the_token_or_an_allowed_address(client, settings, headers):
    settings.METRICS_TOKEN = "s3cret"
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    response = client.get("/metrics", **headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_refused_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_an_allowed_address_gets_in(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", ["127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200


def test_parsed_with_the_token(client, settings, make_user):
    settings.METRICS_TOKEN = "s3cret"
    SystemEvent.objects.create(event_type="audit", event_name="verification", data={"ok": True, "checked": 3})
    client.get("/healthz")
    client.get("/no-such-page")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = families(response.content.decode())
    requests = {(s.labels["view"], s.labels["status"]) for s in found["teamhub_http_requests"].samples
                if s.name == "teamhub_http_requests_total"}
    assert ("healthz", "200") in requests and ("<unmatched>", "404") in requests
    assert any(s.name == "teamhub_http_request_duration_seconds_bucket" and s.labels["view"] == "healthz"
               for s in found["teamhub_http_request_duration_seconds"].samples)
    for name in ("teamhub_sockets_open", "teamhub_messages_posted", "teamhub_ws_frames", "teamhub_jobs",
                 "teamhub_job_bytes_transferred", "teamhub_rclone_errors", "teamhub_celery_queue_depth"):
        assert name in found, name
    assert {s.labels["status"] for s in found["teamhub_jobs"].samples} >= {"running", "queued", "failed", "completed"}
    assert found["teamhub_audit_last_verification_ok"].samples[0].value == 1
    assert 0 <= found["teamhub_audit_last_verification_age_seconds"].samples[0].value < 60
    ahead = {s.labels["table"]: s.value for s in found["teamhub_partitions_ahead"].samples}
    assert ahead["system_metrics"] >= settings.PARTITION_MONTHS_AHEAD
    assert ahead["messages"] >= settings.PARTITION_MONTHS_AHEAD
    assert {s.labels["table"]: s.value for s in found["teamhub_partition_default_rows"].samples}["system_metrics"] == 0


CHILD = """
import django, sys
django.setup()
from ops import prom
for _ in range(int(sys.argv[1])):
    prom.MESSAGES_POSTED.inc()
prom.SOCKETS_OPEN.inc()
"""

RENDER = """
import django
django.setup()
from ops.metrics_view import render
print(render().decode())
"""


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    env = child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    for count in (3, 4):
        subprocess.run([sys.executable, "-c", CHILD, str(count)], cwd=ROOT, env=env, check=True, timeout=120)
    out = subprocess.run([sys.executable, "-c", RENDER], cwd=ROOT, env=env, check=True, timeout=120,
                         capture_output=True, text=True).stdout
    found = families(out)
    assert [s.value for s in found["teamhub_messages_posted"].samples if s.name.endswith("_total")] == [7.0]
    # livesum counts live processes only: both children have exited, but
    # nothing marked them dead (their workers' shutdown would), so both count.
    assert found["teamhub_sockets_open"].samples[0].value == 2.0


def test_a_malformed_allowed_address_stops_the_start():
    from tests.config.test_settings import _load_settings

    result = _load_settings(SECRET_KEY="a-real-secret", METRICS_ALLOWED_IPS="10.0.0.0/8,not-an-ip")
    assert result.returncode != 0 and "METRICS_ALLOWED_IPS: not an IP address or network: 'not-an-ip'" in result.stderr
    assert _load_settings(SECRET_KEY="a-real-secret", METRICS_ALLOWED_IPS="10.0.0.0/8, ::1").returncode == 0
