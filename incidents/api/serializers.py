"""Serializers: output shapes (DESIGN.md's incident, team, service) and input validation only.

Input serializers check types and shapes; the rules (who may use which service, which
transition is allowed) live in ``incidents.services``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from incidents import analytics
from incidents.models import Incident, Service, Severity, Status, Team, TimelineEvent
from incidents.selectors import service_list_for_user, teams_for_user
from incidents.services import COMMENT_MAX_LENGTH, NOTE_MAX_LENGTH, UPDATABLE_FIELDS

User = get_user_model()
_datetime_field = serializers.DateTimeField()


def _iso(value: Any) -> str | None:
    """What DRF's DateTimeField gives (UTC as "Z"), without a field object per value."""
    return None if value is None else _datetime_field.to_representation(value)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug"]


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug", "team", "telemetry_labels", "depends_on", "description", "runbook_url"]
        read_only_fields = fields


class ServiceWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=100)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    description = serializers.CharField(allow_blank=True, required=False, default="")
    runbook_url = serializers.URLField(allow_blank=True, required=False, default="")
    telemetry_labels = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    depends_on = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), many=True, required=False, default=list
    )


class IncidentSerializer(serializers.ModelSerializer):
    team = serializers.SerializerMethodField()
    service_name = serializers.SerializerMethodField()
    mtta_seconds = serializers.SerializerMethodField()
    mttr_seconds = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "description",
            "severity",
            "status",
            "service",
            "fingerprint",
            "detected_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "mtta_seconds",
            "mttr_seconds",
            "url",
            # Beyond DESIGN.md's shape:
            "service_name",
            "team",
            "source",
            "labels",
            "acknowledged_by",
            "commander",
            "created_by",
            "impact_started_at",
            "resolution_note",
            "false_positive",
            "last_seen_at",
            "signal_count",
            "previous",
            "impact",
        ]
        read_only_fields = fields

    def to_representation(self, incident: Incident) -> dict[str, Any]:
        # Built by hand: a list page serializes 50 incidents, and DRF's per-field machinery was
        # most of the request's time. The declared fields above still describe the schema, and
        # a test keeps the two in step.
        return {
            "id": incident.pk,
            "title": incident.title,
            "description": incident.description,
            "severity": incident.severity,
            "status": incident.status,
            "service": incident.service_id,
            "fingerprint": incident.fingerprint,
            "detected_at": _iso(incident.detected_at),
            "acknowledged_at": _iso(incident.acknowledged_at),
            "mitigated_at": _iso(incident.mitigated_at),
            "resolved_at": _iso(incident.resolved_at),
            "mtta_seconds": self.get_mtta_seconds(incident),
            "mttr_seconds": self.get_mttr_seconds(incident),
            "url": incident.get_absolute_url(),
            "service_name": self.get_service_name(incident),
            "team": self.get_team(incident),
            "source": incident.source,
            "labels": incident.labels,
            "acknowledged_by": incident.acknowledged_by_id,
            "commander": incident.commander_id,
            "created_by": incident.created_by_id,
            "impact_started_at": _iso(incident.impact_started_at),
            "resolution_note": incident.resolution_note,
            "false_positive": incident.false_positive,
            "last_seen_at": _iso(incident.last_seen_at),
            "signal_count": incident.signal_count,
            "previous": incident.previous_id,
            "impact": incident.impact,
        }

    def get_team(self, incident: Incident) -> int | None:
        return incident.service.team_id if incident.service_id else None

    def get_service_name(self, incident: Incident) -> str | None:
        return incident.service.name if incident.service_id else None

    def get_mtta_seconds(self, incident: Incident) -> float | None:
        return analytics.mtta_seconds(incident.detected_at, incident.acknowledged_at)

    def get_mttr_seconds(self, incident: Incident) -> float | None:
        return analytics.mttr_seconds(incident.detected_at, incident.resolved_at, incident.impact_started_at)


class _ScopedServiceField(serializers.PrimaryKeyRelatedField):
    """Only the requester's services exist here: another team's id reads as unknown."""

    def get_queryset(self) -> Any:
        return service_list_for_user(user=self.context["request"].user)


class IncidentDeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    severity = serializers.ChoiceField(choices=Severity.choices)
    service = _ScopedServiceField(queryset=Service.objects.all(), allow_null=True, required=False, default=None)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    impact_started_at = serializers.DateTimeField(allow_null=True, required=False, default=None)
    commander = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, required=False, default=None
    )
    labels = serializers.DictField(required=False, default=dict)


class IncidentUpdateSerializer(serializers.Serializer):
    """PATCH body. Any other key, status above all, is refused rather than silently ignored."""

    title = serializers.CharField(max_length=300, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    commander = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    impact_started_at = serializers.DateTimeField(allow_null=True, required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            if "status" in data:
                raise serializers.ValidationError(
                    {"status": ["Status changes go through POST /api/incidents/{id}/transition/."]}
                )
            unknown = sorted(set(data) - set(UPDATABLE_FIELDS))
            if unknown:
                raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
        return super().to_internal_value(data)


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=[Status.INVESTIGATING, Status.MITIGATED, Status.RESOLVED])
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=NOTE_MAX_LENGTH)


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ["id", "at", "kind", "actor", "actor_name", "message", "data"]
        read_only_fields = fields


class CommentSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=COMMENT_MAX_LENGTH)


# --- Stats ---------------------------------------------------------------------------------------


class _TeamOrServiceField(serializers.CharField):
    """An id or a slug, among what the requester may see."""

    def __init__(self, *, scope: str, **kwargs: Any) -> None:
        self.scope = scope
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        user = self.context["request"].user
        queryset = teams_for_user(user=user) if self.scope == "team" else service_list_for_user(user=user)
        lookup = {"pk": int(value)} if value.isdigit() else {"slug": value}
        found = queryset.filter(**lookup).first()
        if found is None:
            raise serializers.ValidationError(f"No {self.scope} {value!r} among yours.")
        return found


class StatsQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Start (inclusive); default: 30 days before until.")
    until = serializers.DateTimeField(required=False, help_text="End (exclusive); default: now.")
    team = _TeamOrServiceField(scope="team", required=False, help_text="Team id or slug.")
    service = _TeamOrServiceField(scope="service", required=False, help_text="Service id or slug.")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)


class SummarySerializer(serializers.Serializer):
    count = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)


class _GroupStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    resolved = serializers.IntegerField()
    false_positives = serializers.IntegerField()
    false_positive_rate = serializers.FloatField(allow_null=True)
    mtta = SummarySerializer(help_text="Seconds from detection to acknowledgement.")
    mttr = SummarySerializer(help_text="Seconds from impact start (or detection) to resolution.")
    mttf = SummarySerializer(help_text="Seconds from the service's previous resolution to this detection.")


class _NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class _BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    count = serializers.IntegerField()


class _TeamStatsSerializer(_GroupStatsSerializer):
    team = _NamedSerializer()


class _ServiceStatsSerializer(_GroupStatsSerializer):
    service = _NamedSerializer()


class _SeverityStatsSerializer(_GroupStatsSerializer):
    severity = serializers.ChoiceField(choices=Severity.choices)


class IncidentStatsSerializer(_GroupStatsSerializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    severity_distribution = serializers.DictField(child=serializers.IntegerField())
    per_hour = _BucketSerializer(many=True)
    per_day = _BucketSerializer(many=True)
    by_team = _TeamStatsSerializer(many=True)
    by_service = _ServiceStatsSerializer(many=True)
    by_severity = _SeverityStatsSerializer(many=True)
