"""WebSocket authentication: a session cookie, or ``?token=<JWT access token>``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken


@database_sync_to_async
def _user_for_token(raw: str) -> Any:
    try:
        token = AccessToken(raw)
    except TokenError:
        return AnonymousUser()
    user_id = token.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}, is_active=True).first()
    return user or AnonymousUser()


class _QueryTokenMiddleware:
    """A token in the query string wins over the session; a bad token is anonymous, not a fallback."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode())
        tokens = query.get("token")
        if tokens:
            scope = dict(scope, user=await _user_for_token(tokens[0]))
        return await self.inner(scope, receive, send)


def TokenOrSessionAuthMiddleware(inner: Any) -> Any:  # noqa: N802 - reads like Channels' own stacks
    return AuthMiddlewareStack(_QueryTokenMiddleware(inner))
