"""The DRF exception handler: domain errors become 400/409 with a message a person can act on."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reliability_studio.lib.errors import Conflict, DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        code = status.HTTP_409_CONFLICT if isinstance(exc, Conflict) else status.HTTP_400_BAD_REQUEST
        body = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        return Response(body, status=code)
    return drf_exception_handler(exc, context)
