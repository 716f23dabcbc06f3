"""Origin checks for WebSockets that let API clients in.

Browsers always send ``Origin``, and a cross-site page is what cross-site WebSocket hijacking
needs, so a present Origin must be one of ALLOWED_HOSTS. Non-browser clients (scripts, CLIs)
send none; they cannot ride a victim's cookies and must authenticate with a token anyway.
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def browser_origin_validator(application: Any) -> BrowserOriginValidator:
    return BrowserOriginValidator(application, [*settings.ALLOWED_HOSTS, *_cors_hosts()])


def _cors_hosts() -> list[str]:
    return [origin.split("://", 1)[-1] for origin in settings.CORS_ALLOWED_ORIGINS]
