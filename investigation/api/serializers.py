"""Output shapes (DESIGN.md's hypothesis and step, plus RCA and recommendations) and input checks.

Input serializers check types and shapes only; the rules (which transition, which incident's
correlations, which parameters an action takes) live in ``investigation.services``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from investigation import transitions
from investigation.models import (
    Hypothesis,
    HypothesisEvidence,
    HypothesisStatus,
    InvestigationStep,
    RCAReport,
    Relation,
    StepAction,
    StepStatus,
)


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


class EvidenceLinkSerializer(serializers.ModelSerializer):
    title = serializers.SerializerMethodField()

    class Meta:
        model = HypothesisEvidence
        fields = ["id", "relation", "correlation", "step", "title", "note", "created_at"]
        read_only_fields = fields

    def get_title(self, link: HypothesisEvidence) -> str:
        target = link.correlation if link.correlation_id else link.step
        return target.title if target is not None else ""


class HypothesisSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    evidence = EvidenceLinkSerializer(many=True, read_only=True)
    steps = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = Hypothesis
        fields = [
            "id",
            "title",
            "description",
            "status",
            "confidence",
            # Beyond DESIGN.md's shape:
            "incident",
            "conclusion",
            "evidence",
            "steps",
            "allowed_transitions",
            "created_by",
            "created_at",
            "updated_at",
            "concluded_at",
        ]
        read_only_fields = fields

    def get_created_by(self, hypothesis: Hypothesis) -> str | None:
        return _username(hypothesis.created_by)

    def get_allowed_transitions(self, hypothesis: Hypothesis) -> list[str]:
        return transitions.hypothesis_targets(hypothesis.status)


class ContradictedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    confidence = serializers.FloatField()
    reason = serializers.CharField()


class HypothesisChangeSerializer(HypothesisSerializer):
    """A hypothesis as changed, with the open ones a confirmation contradicts."""

    contradicts = ContradictedSerializer(many=True, read_only=True)
    proposed_steps = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta(HypothesisSerializer.Meta):
        fields = [*HypothesisSerializer.Meta.fields, "contradicts", "proposed_steps"]
        read_only_fields = fields


class EvidenceInputSerializer(serializers.Serializer):
    correlation = serializers.IntegerField(required=False, min_value=1)
    step = serializers.IntegerField(required=False, min_value=1)
    relation = serializers.ChoiceField(choices=Relation.choices, default=Relation.SUPPORTS)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class HypothesisCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    confidence = serializers.FloatField(required=False, min_value=0.0, max_value=1.0, allow_null=True)
    evidence = EvidenceInputSerializer(many=True, required=False, default=list)


class HypothesisUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    confidence = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    status = serializers.ChoiceField(required=False, choices=HypothesisStatus.choices)
    conclusion = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    evidence = EvidenceInputSerializer(many=True, required=False)


class StepSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    executed_by = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = InvestigationStep
        fields = [
            "id",
            "title",
            "action",
            "status",
            "parameters",
            "findings",
            "hypothesis",
            # Beyond DESIGN.md's shape:
            "incident",
            "origin",
            "reason",
            "template",
            "allowed_transitions",
            "created_by",
            "executed_by",
            "attempts",
            "task_id",
            "created_at",
            "started_at",
            "completed_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    def get_created_by(self, step: InvestigationStep) -> str | None:
        return _username(step.created_by)

    def get_executed_by(self, step: InvestigationStep) -> str | None:
        return _username(step.executed_by)

    def get_allowed_transitions(self, step: InvestigationStep) -> list[str]:
        return transitions.step_targets(step.status, manual=step.action == StepAction.MANUAL)


class StepCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    action = serializers.ChoiceField(choices=StepAction.choices)
    parameters = serializers.JSONField(required=False, default=dict)
    hypothesis = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class StepUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=300)
    parameters = serializers.JSONField(required=False)
    hypothesis = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    status = serializers.ChoiceField(required=False, choices=StepStatus.choices)
    findings = serializers.JSONField(required=False)


class StepRunSerializer(serializers.Serializer):
    step = StepSerializer()
    task_id = serializers.CharField()


class ProposedStepsSerializer(serializers.Serializer):
    created = StepSerializer(many=True)


class RecommendationSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    reason = serializers.CharField()
    priority = serializers.ChoiceField(choices=["critical", "high", "medium", "low"])
    category = serializers.CharField()
    evidence = serializers.ListField(child=serializers.DictField())
    link = serializers.CharField(allow_null=True)


class RecommendationListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = RecommendationSerializer(many=True)


class RCASerializer(serializers.ModelSerializer):
    """The stored version's content, with its version and when and by whom it was generated."""

    created_by = serializers.SerializerMethodField()

    class Meta:
        model = RCAReport
        fields = ["id", "incident", "version", "created_at", "created_by", "content"]
        read_only_fields = fields

    def get_created_by(self, report: RCAReport) -> str | None:
        return _username(report.created_by)

    def to_representation(self, report: RCAReport) -> dict[str, Any]:
        # The analysis' sections at the top level; the stored row's bookkeeping beside them.
        data = super().to_representation(report)
        content = data.pop("content") or {}
        return {**content, **{k: v for k, v in data.items() if k != "id"}, "rca_id": report.pk}


class RCAVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    root_cause = serializers.SerializerMethodField()

    class Meta:
        model = RCAReport
        fields = ["id", "version", "created_at", "created_by", "root_cause"]
        read_only_fields = fields

    def get_created_by(self, report: RCAReport) -> str | None:
        return _username(report.created_by)

    def get_root_cause(self, report: RCAReport) -> dict[str, Any]:
        root = report.root_cause
        return {"status": root.get("status"), "title": root.get("title")}


class RCAQuerySerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1)
