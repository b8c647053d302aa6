"""This process's identity in system_metrics and system_events."""

from __future__ import annotations

import os
import socket


def server_id() -> str:
    """Host name and process id: unique per process across hosts, and what a
    dashboard reader can find with ps on that host."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"
