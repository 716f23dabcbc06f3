"""Hypotheses, the steps that test them, stored RCA versions and playbooks. No business rules here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from correlation.models import Correlation
from detection.models import DetectionRule
from incidents.models import Incident, Service, Severity


class HypothesisStatus(models.TextChoices):
    PROPOSED = "proposed"
    INVESTIGATING = "investigating"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


CONCLUDED_STATUSES = (HypothesisStatus.CONFIRMED, HypothesisStatus.REJECTED)


class Hypothesis(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="hypotheses")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=15, choices=HypothesisStatus.choices, default=HypothesisStatus.PROPOSED)
    confidence = models.FloatField(default=0.5)
    # Why it was confirmed or rejected, in the operator's words.
    conclusion = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    concluded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "hypotheses"
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0.0) & Q(confidence__lte=1.0), name="hypothesis_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=(Q(status__in=CONCLUDED_STATUSES) & Q(concluded_at__isnull=False))
                | (~Q(status__in=CONCLUDED_STATUSES) & Q(concluded_at__isnull=True)),
                name="hypothesis_concluded_at_iff_concluded",
            ),
        ]
        indexes = [models.Index(fields=["incident", "status"], name="hypothesis_incident_idx")]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


class Relation(models.TextChoices):
    SUPPORTS = "supports"
    REFUTES = "refutes"


class HypothesisEvidence(models.Model):
    """A correlation or a step that supports or refutes a hypothesis; exactly one of the two."""

    hypothesis = models.ForeignKey(Hypothesis, on_delete=models.CASCADE, related_name="evidence")
    correlation = models.ForeignKey(Correlation, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    step = models.ForeignKey(
        "InvestigationStep", on_delete=models.CASCADE, null=True, blank=True, related_name="evidence_links"
    )
    relation = models.CharField(max_length=10, choices=Relation.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "hypothesis evidence"
        constraints = [
            models.CheckConstraint(
                condition=(Q(correlation__isnull=False) & Q(step__isnull=True))
                | (Q(correlation__isnull=True) & Q(step__isnull=False)),
                name="hypothesis_evidence_one_target",
            ),
            models.UniqueConstraint(
                fields=["hypothesis", "correlation"],
                condition=Q(correlation__isnull=False),
                name="hypothesis_evidence_unique_correlation",
            ),
            models.UniqueConstraint(
                fields=["hypothesis", "step"], condition=Q(step__isnull=False), name="hypothesis_evidence_unique_step"
            ),
        ]

    def __str__(self) -> str:
        target = f"correlation {self.correlation_id}" if self.correlation_id else f"step {self.step_id}"
        return f"{target} {self.relation} hypothesis {self.hypothesis_id}"


class StepAction(models.TextChoices):
    INVESTIGATE_LOGS = "investigate_logs"
    CHECK_METRICS = "check_metrics"
    CHECK_KUBERNETES = "check_kubernetes"
    CHECK_TRACES = "check_traces"
    TEST_HYPOTHESIS = "test_hypothesis"
    MANUAL = "manual"


class StepStatus(models.TextChoices):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


FINISHED_STEP_STATUSES = (StepStatus.COMPLETED, StepStatus.FAILED)


class StepOrigin(models.TextChoices):
    MANUAL = "manual"  # added by a person
    PROPOSED = "proposed"  # guided: from the severity and the evidence
    PLAYBOOK = "playbook"  # from a matching InvestigationTemplate


class InvestigationStep(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="investigation_steps")
    hypothesis = models.ForeignKey(Hypothesis, on_delete=models.SET_NULL, null=True, blank=True, related_name="steps")
    title = models.CharField(max_length=300)
    action = models.CharField(max_length=20, choices=StepAction.choices)
    # {"query": ..., "window": {"start": ..., "end": ...} | {"minutes": n}, "service": ..., "source": ...}
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=15, choices=StepStatus.choices, default=StepStatus.PENDING)
    # {"summary": "...", "data": {...}} and, when it failed, {"error": "<cause>"}.
    findings = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=10, choices=StepOrigin.choices, default=StepOrigin.MANUAL)
    # Why a guided or playbook step was proposed.
    reason = models.TextField(blank=True)
    # Guided and playbook steps: proposing twice finds the step already there.
    proposal_key = models.CharField(max_length=255, blank=True)
    template = models.ForeignKey(
        "InvestigationTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "proposal_key"], condition=~Q(proposal_key=""), name="step_unique_proposal_key"
            ),
            models.CheckConstraint(
                condition=(Q(status__in=FINISHED_STEP_STATUSES) & Q(completed_at__isnull=False))
                | (~Q(status__in=FINISHED_STEP_STATUSES) & Q(completed_at__isnull=True)),
                name="step_completed_at_iff_finished",
            ),
            models.CheckConstraint(
                condition=~Q(status=StepStatus.IN_PROGRESS) | Q(started_at__isnull=False),
                name="step_in_progress_has_started_at",
            ),
        ]
        indexes = [models.Index(fields=["incident", "status"], name="step_incident_idx")]

    def __str__(self) -> str:
        return f"{self.title} ({self.action}, {self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return max((self.completed_at - self.started_at).total_seconds(), 0.0)

    @property
    def summary(self) -> str:
        return str((self.findings or {}).get("summary") or "")


class RCAReport(models.Model):
    """One generation of an incident's root-cause analysis; versions count up per incident."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="rca_reports")
    version = models.PositiveIntegerField()
    content = models.JSONField(default=dict)
    markdown = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["incident", "version"]
        verbose_name = "RCA report"
        constraints = [models.UniqueConstraint(fields=["incident", "version"], name="rca_unique_incident_version")]

    def __str__(self) -> str:
        return f"RCA v{self.version} of incident {self.incident_id}"

    # What the incident page shows of the latest version.
    @property
    def title(self) -> str:
        return str(self.content.get("title") or "")

    @property
    def summary(self) -> str:
        return str(self.content.get("summary") or "")

    @property
    def root_cause(self) -> dict[str, Any]:
        return self.content.get("root_cause") or {}


class InvestigationTemplate(models.Model):
    """A playbook: the steps to take for incidents that match it, applied automatically.

    It matches an incident when every criterion it sets holds (at least one must be set):
    one of its rules fired the incident, the incident is on one of its services, the incident's
    labels include all of ``match_labels``, the incident has one of ``match_severities``.
    """

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    match_rules = models.ManyToManyField(DetectionRule, blank=True, related_name="+")
    match_services = models.ManyToManyField(Service, blank=True, related_name="+")
    match_labels = models.JSONField(default=dict, blank=True, help_text='e.g. {"team": "payments"}')
    match_severities = models.JSONField(
        default=list, blank=True, help_text=f"A list of {', '.join(Severity.values)}; empty: any severity."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "playbook"

    def __str__(self) -> str:
        return self.name


class InvestigationTemplateStep(models.Model):
    template = models.ForeignKey(InvestigationTemplate, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=300)
    action = models.CharField(max_length=20, choices=StepAction.choices)
    parameters = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["template", "position", "id"]
        verbose_name = "playbook step"

    def __str__(self) -> str:
        return self.title
