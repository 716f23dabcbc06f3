from __future__ import annotations

from django.urls import path

from realtime.consumers import EventsConsumer

websocket_urlpatterns = [
    path("api/realtime", EventsConsumer.as_asgi()),
    path("ws/realtime", EventsConsumer.as_asgi()),
]
