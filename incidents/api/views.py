"""Incident, team and service endpoints: validate, call one service or selector, serialize."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors, services
from incidents.api.filters import IncidentFilter
from incidents.api.serializers import (
    CommentSerializer,
    IncidentDeclareSerializer,
    IncidentSerializer,
    IncidentStatsSerializer,
    IncidentUpdateSerializer,
    ServiceSerializer,
    ServiceWriteSerializer,
    StatsQuerySerializer,
    TeamSerializer,
    TimelineEventSerializer,
    TransitionSerializer,
)
from incidents.models import Incident, Service, Team

_ERRORS = {
    400: OpenApiResponse(description='Invalid input: `{"<field>": ["message"]}` or `{"detail": "..."}`.'),
    404: OpenApiResponse(description="No such incident among your teams' incidents."),
}
_CONFLICT = {409: OpenApiResponse(description="A concurrent change won: the incident is already there.")}


class IncidentPagination(CursorPagination):
    # Matches the (detected_at DESC, id DESC) index; a cursor stays stable while incidents open.
    ordering = ("-detected_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class TimelinePagination(CursorPagination):
    ordering = ("at", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema_view(
    list=extend_schema(summary="Incidents of your teams' services, newest first"),
    retrieve=extend_schema(summary="One incident", responses={200: IncidentSerializer, 404: _ERRORS[404]}),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Incident.objects.none()  # for the schema; requests use get_queryset's scope
    serializer_class = IncidentSerializer
    pagination_class = IncidentPagination
    filterset_class = IncidentFilter
    search_fields = ["title"]
    ordering_fields = ["detected_at", "last_seen_at", "id"]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Incident]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.incident_list_for_user(user=self.request.user).select_related("service")

    def get_object(self) -> Incident:
        # No filter backends here: list filters in the query string must not 404 a detail.
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    @extend_schema(
        summary="Declare an incident by hand",
        request=IncidentDeclareSerializer,
        responses={201: IncidentSerializer, 400: _ERRORS[400]},
    )
    def create(self, request: Request) -> Response:
        payload = IncidentDeclareSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        incident = services.incident_declare(user=request.user, **payload.validated_data)
        return Response(self._out(incident), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change title, description, severity, commander or impact start (not status)",
        request=IncidentUpdateSerializer,
        responses={200: IncidentSerializer, **_ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        incident = self.get_object()
        payload = IncidentUpdateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        incident = services.incident_update(incident=incident, user=request.user, **payload.validated_data)
        return Response(self._out(incident))

    @extend_schema(
        summary="Acknowledge (sets MTTA; the status does not change)",
        request=None,
        responses={200: IncidentSerializer, **_ERRORS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        incident = services.incident_acknowledge(incident=self.get_object(), user=request.user)
        return Response(self._out(incident))

    @extend_schema(
        summary="Move along the lifecycle: open → investigating → mitigated → resolved",
        description="Skipping a step needs a note; open → resolved marks a false positive; "
        "resolved → investigating reopens.",
        request=TransitionSerializer,
        responses={200: IncidentSerializer, **_ERRORS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        incident = self.get_object()
        payload = TransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        incident = services.incident_transition(incident=incident, user=request.user, **payload.validated_data)
        return Response(self._out(incident))

    @extend_schema(
        methods=["GET"],
        summary="The incident's timeline, oldest first",
        filters=False,
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous page's `next`."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 500."),
        ],
        responses={200: TimelineEventSerializer(many=True), 404: _ERRORS[404]},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a comment to the timeline",
        request=CommentSerializer,
        responses={201: TimelineEventSerializer, **_ERRORS},
    )
    # Its own paginator and no list filters: it pages events, not incidents.
    @action(detail=True, methods=["get", "post"], pagination_class=TimelinePagination, filter_backends=[])
    def timeline(self, request: Request, pk: str) -> Response:
        incident = self.get_object()
        if request.method == "POST":
            payload = CommentSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            event = services.incident_comment(incident=incident, user=request.user, **payload.validated_data)
            return Response(TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.timeline_for_incident(incident=incident))
        return self.get_paginated_response(TimelineEventSerializer(page, many=True).data)

    @extend_schema(
        summary="MTTA, MTTR, MTTF, severity distribution, incidents per hour and day, false-positive rate",
        filters=False,
        parameters=[StatsQuerySerializer],
        responses={200: IncidentStatsSerializer, 400: _ERRORS[400]},
    )
    @action(detail=False, methods=["get"])
    def stats(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        stats = selectors.incident_stats(user=request.user, **query.validated_data)
        return Response(IncidentStatsSerializer(stats).data)

    def _out(self, incident: Incident) -> dict[str, Any]:
        return IncidentSerializer(incident, context=self.get_serializer_context()).data


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.none()  # for the schema
    serializer_class = TeamSerializer
    filter_backends: list = []

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.teams_for_user(user=self.request.user)


@extend_schema_view(
    create=extend_schema(request=ServiceWriteSerializer, responses={201: ServiceSerializer, 400: _ERRORS[400]}),
    partial_update=extend_schema(request=ServiceWriteSerializer, responses={200: ServiceSerializer, **_ERRORS}),
)
class ServiceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = Service.objects.none()  # for the schema
    serializer_class = ServiceSerializer
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.service_list_for_user(user=self.request.user).prefetch_related("depends_on")

    def create(self, request: Request) -> Response:
        payload = ServiceWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        service = services.service_create(user=request.user, **payload.validated_data)
        return Response(ServiceSerializer(service).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        service: Service = self.get_object()
        payload = ServiceWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        service = services.service_update(service=service, user=request.user, **payload.validated_data)
        return Response(ServiceSerializer(service).data)
