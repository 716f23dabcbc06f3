"""The studio's fault-injection endpoints: forwarded to the demo shop when the demo is on."""

from __future__ import annotations

import requests
from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

FORWARD_TIMEOUT_SECONDS = 5


class DemoForwardView(APIView):
    """Staff only: these endpoints break things on purpose."""

    permission_classes = [IsAdminUser]
    action = ""

    @extend_schema(request=dict, responses=dict)
    def post(self, request: Request) -> Response:
        if not settings.DEMO_URL:
            raise Http404("the demo is not running")
        try:
            answer = requests.post(
                f"{settings.DEMO_URL.rstrip('/')}/api/test/{self.action}",
                json=request.data,
                timeout=FORWARD_TIMEOUT_SECONDS,
            )
            body = answer.json()
        except (requests.RequestException, ValueError) as exc:
            return Response({"detail": f"the demo shop did not answer: {exc}"}, status=502)
        return Response(body, status=answer.status_code)
