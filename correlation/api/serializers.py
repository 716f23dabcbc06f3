"""Output shapes of correlation (DESIGN.md's correlation, plus the run and the impact)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from correlation.models import Correlation, CorrelationRun


class CorrelationSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Correlation
        fields = [
            "id",
            "kind",
            "source",
            "title",
            "detail",
            "evidence",
            "confidence",
            "factors",
            "rank",
            "is_root_cause_candidate",
            # Beyond DESIGN.md's shape:
            "key",
            "service",
            "signal",
            "onset_at",
            "onset_is_upper_bound",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CorrelationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CorrelationRun
        fields = [
            "id",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "window_start",
            "window_end",
            "baseline_start",
            "symptom_start",
            "collectors",
            "findings",
            "changed",
            "error",
        ]
        read_only_fields = fields


class CorrelateResponseSerializer(serializers.Serializer):
    incident = serializers.IntegerField()
    scheduled = serializers.BooleanField()
    run = CorrelationRunSerializer(allow_null=True)


class ImpactSerializer(serializers.Serializer):
    """``Incident.impact`` as correlation writes it; empty fields until a run has finished."""

    incident = serializers.IntegerField()
    service = serializers.CharField(allow_null=True)
    suggested_severity = serializers.CharField(allow_null=True)
    blast_radius = serializers.ListField(child=serializers.DictField())
    dependents = serializers.ListField(child=serializers.CharField())
    failing_share = serializers.FloatField(allow_null=True)
    failing_share_peak = serializers.FloatField(allow_null=True)
    pods_affected = serializers.ListField(child=serializers.CharField())
    pods_total = serializers.IntegerField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    computed_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def shape(incident_id: int, impact: dict[str, Any]) -> dict[str, Any]:
        return {
            "incident": incident_id,
            "service": impact.get("service"),
            "suggested_severity": impact.get("suggested_severity"),
            "blast_radius": impact.get("blast_radius", []),
            "dependents": impact.get("dependents", []),
            "failing_share": impact.get("failing_share"),
            "failing_share_peak": impact.get("failing_share_peak"),
            "pods_affected": impact.get("pods_affected", []),
            "pods_total": impact.get("pods_total"),
            "reasons": impact.get("reasons", []),
            "computed_at": impact.get("computed_at"),
        }
