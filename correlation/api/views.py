"""Thin views: find the incident among the user's, call one selector or service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from correlation import selectors, services
from correlation.api.serializers import (
    CorrelateResponseSerializer,
    CorrelationRunSerializer,
    CorrelationSerializer,
    ImpactSerializer,
)
from correlation.models import RunTrigger


class _RankedPagination(PageNumberPagination):
    """DRF's page; the view adds the latest run (which collectors answered) beside the results."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["run"] = {"type": "object", "nullable": True}
        return paginated


class IncidentCorrelationsView(ListAPIView):
    """GET /api/incidents/{id}/correlations/: ranked, best first, with factors; ``?all=1`` adds retired ones."""

    serializer_class = CorrelationSerializer
    pagination_class = _RankedPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        self.incident = selectors.incident_for_user(user=self.request.user, incident_id=self.kwargs["pk"])
        include_inactive = self.request.query_params.get("all") in ("1", "true")
        return selectors.correlation_list(incident=self.incident, include_inactive=include_inactive)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        run = selectors.correlation_run_latest(incident=self.incident)
        response.data["run"] = CorrelationRunSerializer(run).data if run else None
        return response


class IncidentCorrelateView(APIView):
    """POST /api/incidents/{id}/correlate/: run the collectors again, now (queued to a worker)."""

    @extend_schema(request=None, responses={202: CorrelateResponseSerializer})
    def post(self, request: Request, pk: int) -> Response:
        incident = selectors.incident_for_user(user=request.user, incident_id=pk)
        services.correlation_schedule(incident.pk, trigger=RunTrigger.MANUAL)
        # In the embedded default the task has already run; elsewhere this is the previous run.
        run = selectors.correlation_run_latest(incident=incident)
        body = {"incident": incident.pk, "scheduled": True, "run": CorrelationRunSerializer(run).data if run else None}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class IncidentImpactView(APIView):
    """GET /api/incidents/{id}/impact/: suggested severity and blast radius from the latest run."""

    @extend_schema(responses={200: ImpactSerializer})
    def get(self, request: Request, pk: int) -> Response:
        incident = selectors.incident_for_user(user=request.user, incident_id=pk)
        return Response(ImpactSerializer(ImpactSerializer.shape(incident.pk, incident.impact or {})).data)
