"""API load against real server processes, and the PostgreSQL backends those
processes hold (pg_stat_activity, by application_name). Shared by the
connection-bound test and bench/db_connections.py."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

BACKENDS_SQL = """
SELECT application_name, count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = ANY(%s)
GROUP BY application_name
"""


def backends(conn, names: list[str]) -> dict[str, int]:
    """{application_name: backends now} for each name (0 when it has none)."""
    counts = dict(conn.execute(BACKENDS_SQL, [names]).fetchall())
    return {name: counts.get(name, 0) for name in names}


class BackendSampler:
    """Samples ``backends`` every ``interval`` seconds on its own connection
    while in use; ``peak`` is the most each name held at once."""

    def __init__(self, connect, names: list[str], interval: float = 0.1):
        self.connect, self.names, self.interval = connect, names, interval
        self.peak = dict.fromkeys(names, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self.connect() as conn:
            while True:
                for name, n in backends(conn, self.names).items():
                    self.peak[name] = max(self.peak[name], n)
                if self._stop.wait(self.interval):
                    return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def call(base: str, path: str, *, token: str | None = None, method: str = "GET", body: dict | None = None,
         timeout: float = 30) -> tuple[int, "http.client.HTTPMessage", dict]:
    """One HTTP request: (status, headers (case-insensitive), JSON body or {})."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, err.headers, err.read()
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError:
        payload = {"_text": raw.decode(errors="replace")}
    return status, headers, payload


@dataclass
class LoadResult:
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0


def chat_load(urls: list[str], token: str, room_id, *, count: int, concurrency: int = 16,
              rate: float | None = None) -> LoadResult:
    """``count`` API requests spread round-robin over ``urls``: every other
    one posts a chat message (a write), the rest read ``/me`` and the room's
    history. With ``rate``, requests start at that many per second;
    otherwise as fast as ``concurrency`` clients go."""
    result = LoadResult()
    lock = threading.Lock()

    def one(i: int):
        base = urls[i % len(urls)]
        t0 = time.perf_counter()
        if i % 2 == 0:
            status = call(base, f"/api/v1/rooms/{room_id}/messages/", token=token, method="POST",
                          body={"content": f"load {i}"})[0]
        elif i % 4 == 1:
            status = call(base, "/api/v1/me", token=token)[0]
        else:
            status = call(base, f"/api/v1/rooms/{room_id}/messages/?limit=20", token=token)[0]
        with lock:
            result.statuses.append(status)
            result.latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        futures = []
        for i in range(count):
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            futures.append(pool.submit(one, i))
        for future in futures:
            future.result()
    result.seconds = time.perf_counter() - start
    return result
