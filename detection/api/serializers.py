"""JSON shapes of the detection API (DESIGN.md: source, rule), validated by ``detection.validation``."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from detection import configuration
from detection.models import Alert, AlertKind, AlertState, DataSource, DetectionCycle, DetectionRule, SourceKind
from detection.validation import rule_validate, source_validate
from incidents.models import Service
from reliability_studio.lib.errors import DomainError

CREDENTIAL_FIELDS = ("auth_token", "username", "password", "kubeconfig", "context")


class FiniteFloatField(serializers.FloatField):
    """A float that JSON can carry: NaN and ±Inf (a p95 past the last bucket) are sent as null."""

    def to_representation(self, value: Any) -> float | None:
        number = float(value)
        return number if math.isfinite(number) else None


# Several models have a "kind" (sources, alerts, timeline events, correlations); drf-spectacular
# would name them all "KindEnum" and warn about the collision, so these two are named here.
@extend_schema_field({"type": "string", "enum": AlertKind.values}, component_name="AlertKindEnum")
class AlertKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=AlertKind.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": SourceKind.values}, component_name="SourceKindEnum")
class SourceKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=SourceKind.choices, **kwargs)


def _field_error(exc: DomainError) -> serializers.ValidationError:
    return serializers.ValidationError({exc.field or api_settings.NON_FIELD_ERRORS_KEY: [exc.message]})


def _merged(serializer: serializers.ModelSerializer, attrs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The values the object will have once saved: the request's, else the current or default ones."""
    model = serializer.Meta.model
    values = {}
    for name in names:
        if name in attrs:
            values[name] = attrs[name]
        elif serializer.instance is not None:
            values[name] = getattr(serializer.instance, name)
        else:
            values[name] = model._meta.get_field(name).get_default()
    return values


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


class SourceHealthSerializer(serializers.Serializer):
    healthy = serializers.BooleanField(read_only=True)
    last_ok_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True)
    last_error_at = serializers.DateTimeField(read_only=True, allow_null=True)
    consecutive_failures = serializers.IntegerField(read_only=True)


class SourceSerializer(serializers.ModelSerializer):
    kind = SourceKindField()
    health = SourceHealthSerializer(source="*", read_only=True)
    credentials_set = serializers.SerializerMethodField(
        help_text="Which write-only credentials hold a value; the values themselves are never sent back."
    )

    class Meta:
        model = DataSource
        fields = [
            "id", "name", "kind", "url", "timeout_seconds", "enabled", "verify_tls", "health", "credentials_set",
            *CREDENTIAL_FIELDS,
        ]
        extra_kwargs = {
            "auth_token": {"write_only": True, "style": {"input_type": "password"}},
            "password": {"write_only": True, "style": {"input_type": "password"}},
            "username": {"write_only": True},
            "kubeconfig": {"write_only": True, "help_text": "A kubeconfig path or inline YAML; empty: in-cluster."},
            "context": {"write_only": True},
        }

    def get_credentials_set(self, source: DataSource) -> list[str]:
        return [name for name in CREDENTIAL_FIELDS if getattr(source, name)]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        values = _merged(self, attrs, ("name", "kind", "url", "timeout_seconds", "enabled", "verify_tls",
                                       *CREDENTIAL_FIELDS))
        try:
            source_validate(**values, instance=self.instance)
        except DomainError as exc:
            raise _field_error(exc) from exc
        return attrs


class SourceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DataSource
        fields = ["id", "name"]


class SourceStatusSerializer(serializers.ModelSerializer):
    kind = SourceKindField(read_only=True)
    healthy = serializers.BooleanField(read_only=True)

    class Meta:
        model = DataSource
        fields = ["id", "name", "kind", "enabled", "healthy", "last_ok_at", "last_error", "last_error_at",
                  "consecutive_failures"]


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


class RuleStateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["disabled", "new", "error", "firing", "pending", "ok"],
        help_text="disabled; new (never evaluated); error (last evaluation failed); firing; pending; ok.",
    )
    pending = serializers.IntegerField(help_text="Alerts (label sets) pending.")
    firing = serializers.IntegerField(help_text="Alerts (label sets) firing.")


class RuleSerializer(serializers.ModelSerializer):
    last_value = FiniteFloatField(read_only=True, allow_null=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = DetectionRule
        fields = [
            "id", "name", "description", "rule_type", "source", "service", "query", "comparator",
            "threshold_value", "for_seconds", "keep_firing_for_seconds", "severity", "labels", "annotations",
            "enabled",
            # Beyond the DESIGN.md shape:
            "pattern", "parameters", "team", "auto_resolve", "evaluation_interval_seconds",
            "last_evaluated_at", "last_value", "last_error", "last_error_at", "state",
        ]
        read_only_fields = ["last_evaluated_at", "last_value", "last_error", "last_error_at"]

    VALIDATED = ("rule_type", "source", "query", "comparator", "threshold_value", "pattern", "parameters",
                 "for_seconds", "keep_firing_for_seconds", "evaluation_interval_seconds", "labels", "annotations")

    @extend_schema_field(RuleStateSerializer)
    def get_state(self, rule: DetectionRule) -> dict[str, Any]:
        pending = getattr(rule, "pending_alerts", None)
        firing = getattr(rule, "firing_alerts", None)
        if pending is None or firing is None:
            pending = rule.alerts.filter(state=AlertState.PENDING).count()
            firing = rule.alerts.filter(state=AlertState.FIRING).count()
        if not rule.enabled:
            status = "disabled"
        elif rule.last_evaluated_at is None:
            status = "new"
        elif rule.last_error:
            status = "error"
        else:
            status = "firing" if firing else "pending" if pending else "ok"
        return {"status": status, "pending": pending, "firing": firing}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        values = _merged(self, attrs, (*self.VALIDATED, "team", "service"))
        team, service = values.pop("team"), values.pop("service")
        try:
            # Who may write first: someone else's rule must not cost a query against a source.
            configuration.rule_access_check(user=self.context["request"].user, team=team, service=service,
                                            rule=self.instance)
            cleaned = rule_validate(**values, instance=self.instance)
        except DomainError as exc:
            raise _field_error(exc) from exc
        attrs.update(cleaned)
        return attrs


class RuleRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionRule
        fields = ["id", "name"]


# --------------------------------------------------------------------------------------------
# Alerts, dry runs, status
# --------------------------------------------------------------------------------------------


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "slug", "name"]


class AlertSerializer(serializers.ModelSerializer):
    """A superset of ``detection.services.alert_payload``, the realtime ``alert`` event's data."""

    kind = AlertKindField(read_only=True)
    rule = RuleRefSerializer(read_only=True, allow_null=True)
    source = SourceRefSerializer(read_only=True)
    service = ServiceRefSerializer(read_only=True, allow_null=True)
    value = FiniteFloatField(read_only=True, allow_null=True)
    since = serializers.DateTimeField(source="active_since", read_only=True, allow_null=True,
                                      help_text="When the current breach began.")
    incident_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = [
            "id", "kind", "state", "severity", "rule", "source", "service", "labels", "value", "message", "since",
            "incident_id", "fingerprint", "fired_at", "last_breach_at", "resolved_at", "detection_latency_seconds",
            "updated_at",
        ]
        read_only_fields = fields


class AlertChangeSerializer(serializers.Serializer):
    fingerprint = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    breaching = serializers.BooleanField()
    state_before = serializers.CharField()
    state_after = serializers.CharField()
    value = FiniteFloatField(allow_null=True)
    reason = serializers.CharField()
    alert_id = serializers.IntegerField(allow_null=True)
    opens_incident = serializers.BooleanField()


class DryRunSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField()
    evaluated_at = serializers.DateTimeField()
    ok = serializers.BooleanField(help_text="False when the source or the rule's settings stopped the evaluation.")
    error = serializers.CharField()
    error_kind = serializers.CharField(
        help_text="bad_query, unavailable, bad_response, access_denied, config, source_error; empty when ok."
    )
    duration_ms = serializers.FloatField()
    series_count = serializers.IntegerField()
    value = FiniteFloatField(allow_null=True)
    breaches = AlertChangeSerializer(many=True)
    would_fire = AlertChangeSerializer(many=True, help_text="Alerts that would fire and open (or join) an incident.")
    would_clear = AlertChangeSerializer(many=True, help_text="Firing alerts that would resolve.")
    changes = AlertChangeSerializer(many=True, help_text="Every alert the evaluation would touch.")
    summary = serializers.CharField()


class CycleSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = DetectionCycle
        fields = ["id", "started_at", "finished_at", "duration_seconds", "chunks_total", "chunks_done",
                  "rules_evaluated", "rules_errored", "alerts_fired", "incidents_opened"]
        read_only_fields = fields


class DetectionStatusSerializer(serializers.Serializer):
    interval_seconds = serializers.IntegerField()
    last_cycle = CycleSerializer(allow_null=True, help_text="The last finished cycle.")
    running_cycle = CycleSerializer(allow_null=True, help_text="A cycle started since and not finished yet.")
    rules_enabled = serializers.IntegerField()
    rules_erroring = serializers.IntegerField()
    active_alerts = AlertSerializer(
        many=True, help_text="Pending and firing alerts: firing first, then most severe, then oldest."
    )
    active_alerts_total = serializers.IntegerField()
    sources = SourceStatusSerializer(many=True)
