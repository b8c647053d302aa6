"""The Prometheus metrics this process counts itself (prometheus-client).

With PROMETHEUS_MULTIPROC_DIR set (one directory shared by every web
process and worker), prometheus-client keeps each process's values in
files there and /metrics adds them up (multiprocess mode); a gauge then
says how to combine processes (``livesum``: the live processes' sum).
What the database knows (jobs, partitions, the audit check) is read at
scrape time instead, by ops.collectors.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS = Counter(
    "teamhub_http_requests", "HTTP requests answered, by view, method and status.", ["view", "method", "status"])
HTTP_LATENCY = Histogram(
    "teamhub_http_request_duration_seconds", "Time to answer an HTTP request, by view.", ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
SOCKETS_OPEN = Gauge("teamhub_sockets_open", "WebSockets open now.", multiprocess_mode="livesum")
FRAMES = Counter("teamhub_ws_frames", "WebSocket frames, by direction (in, out) and type.", ["direction", "type"])
MESSAGES_POSTED = Counter("teamhub_messages_posted", "Chat messages posted (rate() gives messages per second).")
FANOUT_LATENCY = Histogram(
    "teamhub_fanout_latency_seconds",
    "From a message's stamp (the database's clock, at insert) to its send to a socket through the channel layer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
