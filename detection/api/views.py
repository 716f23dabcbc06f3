"""Thin DRF views: validate with the serializer, call one service or selector, serialize."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from detection import configuration, selectors
from detection.api.serializers import (
    AlertSerializer,
    DetectionStatusSerializer,
    DryRunSerializer,
    RuleSerializer,
    SourceSerializer,
)
from detection.dry_run import rule_dry_run
from detection.models import Alert, AlertState, DataSource, DetectionRule


class StaffWritesOnly(permissions.BasePermission):
    """Anyone signed in may read; only staff may write (sources reach every team's telemetry)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_staff)


class SourceViewSet(viewsets.ModelViewSet):
    serializer_class = SourceSerializer
    permission_classes = [permissions.IsAuthenticated, StaffWritesOnly]
    filterset_fields = ["kind", "enabled"]
    search_fields = ["name", "url"]
    ordering_fields = ["name", "kind", "consecutive_failures"]

    def get_queryset(self) -> Any:
        return selectors.source_list()

    def perform_create(self, serializer: SourceSerializer) -> None:
        serializer.instance = configuration.source_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: SourceSerializer) -> None:
        serializer.instance = configuration.source_update(
            source=serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: DataSource) -> None:
        configuration.source_delete(source=instance, user=self.request.user)


class RuleFilter(django_filters.FilterSet):
    class Meta:
        model = DetectionRule
        fields = ["rule_type", "source", "service", "team", "severity", "enabled"]


class RuleViewSet(viewsets.ModelViewSet):
    """Rules of the user's teams (and org-wide ones); members of the rule's team or staff may write."""

    serializer_class = RuleSerializer
    filterset_class = RuleFilter
    search_fields = ["name", "description", "query"]
    ordering_fields = ["name", "severity", "last_evaluated_at", "id"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return DetectionRule.objects.none()
        return selectors.rule_list_for_user(user=self.request.user)

    def perform_create(self, serializer: RuleSerializer) -> None:
        serializer.instance = configuration.rule_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: RuleSerializer) -> None:
        serializer.instance = configuration.rule_update(
            rule=serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: DetectionRule) -> None:
        configuration.rule_delete(rule=instance, user=self.request.user)

    @extend_schema(request=None, responses=DryRunSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Evaluate the rule now and say what would fire or clear; saves nothing."""
        return Response(DryRunSerializer(rule_dry_run(rule=self.get_object())).data)


class AlertFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=AlertState.choices)

    class Meta:
        model = Alert
        fields = ["state", "kind", "severity", "rule", "service", "source"]


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alert states (one per rule and label set) of the user's teams; ``?state=firing&state=pending``."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["updated_at", "active_since", "severity", "id"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        return selectors.alert_list_for_user(user=self.request.user)


class StatusView(APIView):
    """The last cycle, active alerts the user may see, and each source's health."""

    @extend_schema(responses=DetectionStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(DetectionStatusSerializer(selectors.detection_status(user=request.user)).data)
