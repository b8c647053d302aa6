"""GET /metrics: the Prometheus text format (with each read replica's lag,
ops.replica_status), for METRICS_TOKEN as a bearer
token or a client IP in METRICS_ALLOWED_IPS; 403 for anyone else."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from core.client_ip import client_ip
from core.errors import json_error_response
from ops import prom
from ops.collectors import DatabaseCollector
from ops.replica_status import ReplicaCollector


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    ip = client_ip(request)
    if ip and settings.METRICS_ALLOWED_IPS:
        address = ipaddress.ip_address(ip)
        # The entries were checked when the settings loaded.
        if any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS):
            return True
    return False


def render() -> bytes:
    if prom.MULTIPROCESS:
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    database_registry = CollectorRegistry()
    database_registry.register(DatabaseCollector())
    # This process's view of the read replicas (each process checks them all).
    database_registry.register(ReplicaCollector())
    return generate_latest(process_registry) + generate_latest(database_registry)


@never_cache
@require_GET
def metrics(request):
    if not allowed(request):
        return json_error_response("permission_denied", "A metrics token or an allowed address is required.", 403)
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
