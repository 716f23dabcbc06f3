"""ASGI entry point: HTTP through Django, WebSockets through Channels, one process."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliability_studio.settings")

try:
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()
except ImproperlyConfigured as exc:  # one sentence, no traceback, for operators
    raise SystemExit(str(exc)) from None

# Imported after Django is set up: these touch models.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.auth import TokenOrSessionAuthMiddleware  # noqa: E402
from realtime.origins import browser_origin_validator  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": browser_origin_validator(TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
