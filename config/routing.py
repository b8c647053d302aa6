"""WebSocket routes: one socket per client at /ws/."""

from django.urls import path

from realtime.consumers import ClientConsumer

websocket_urlpatterns = [
    path("ws/", ClientConsumer.as_asgi()),
]
