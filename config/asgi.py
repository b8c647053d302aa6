"""ASGI entry point: HTTP goes to Django, /ws/ to Channels."""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Database and Redis calls run in worker threads beside the event loop. When
# one returns, its thread waits for the GIL, by default up to 5 ms while the
# loop relays frames. A shorter interval keeps those waits short; much
# shorter costs more in thread switches than it saves. bench/ws_fanout.py at
# 200 msg/s, p99: 5 ms 519, 2 ms 262, 0.5 ms 470 (ms, one run each).
sys.setswitchinterval(float(os.environ.get("ASGI_SWITCH_INTERVAL", "0.002")))

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from config.socket_auth import SessionUserMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The Host and Origin checks live in SessionUserMiddleware: an origin
        # only decides whether the session cookie counts (config/socket_auth.py).
        "websocket": SessionUserMiddleware(URLRouter(websocket_urlpatterns)),
    }
)

# A full garbage collection walks every tracked object, and what Django's
# setup leaves (~100k: modules, settings, URL patterns, models) is never
# garbage. Freezing it out of the collector's view shortened a loaded
# server's full collections, which hold its event loop, from 40-170 ms to
# 20-60 ms of CPU (bench/ws_fanout.py, 500 sockets a process).
gc.collect()
gc.freeze()
