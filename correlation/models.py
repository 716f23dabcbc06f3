"""Correlations (evidence with a confidence and its factors) and the runs that produce them."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from incidents.models import Incident, Service


class CorrelationKind(models.TextChoices):
    INFRASTRUCTURE = "infrastructure"
    METRICS = "metrics"
    LOGS = "logs"
    TRACES = "traces"
    CHANGE = "change"


class Correlation(models.Model):
    """One finding about one incident. A rerun updates the row with the same (kind, key)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="correlations")
    kind = models.CharField(max_length=20, choices=CorrelationKind.choices)
    # Stable identity of the finding within its kind, e.g. "change:shop/checkout:12".
    key = models.CharField(max_length=255)
    # The DataSource's name the evidence came from.
    source = models.CharField(max_length=100, blank=True)
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    signal = models.CharField(max_length=60, blank=True)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    onset_at = models.DateTimeField(null=True, blank=True)
    # Only "at the latest" is known (a pod's last crash, an event's last sighting).
    onset_is_upper_bound = models.BooleanField(default=False)
    # The scoring inputs, kept so a rerun whose collector failed can rescore the old finding.
    magnitude = models.FloatField(default=0.0)
    specificity = models.FloatField(default=0.0)
    confidence = models.FloatField(default=0.0)
    factors = models.JSONField(default=dict, blank=True)
    rank = models.PositiveIntegerField(null=True, blank=True)
    is_root_cause_candidate = models.BooleanField(default=False)
    # False once a later run, whose collector did answer, no longer finds it.
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = [F("rank").asc(nulls_last=True), "-confidence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "key"], name="correlation_unique_incident_kind_key"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.0) & Q(confidence__lte=1.0), name="correlation_confidence_0_1"
            ),
        ]
        indexes = [models.Index(fields=["incident", "active", "rank"], name="correlation_incident_rank_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title} ({self.confidence:.2f})"


class RunTrigger(models.TextChoices):
    CREATED = "created"
    MANUAL = "manual"
    PERIODIC = "periodic"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # some collectors failed, the others' evidence is stored
    FAILED = "failed"


class CorrelationRun(models.Model):
    """One pass of the collectors over an incident, with what each of them did."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="correlation_runs")
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices, default=RunTrigger.MANUAL)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    baseline_start = models.DateTimeField(null=True, blank=True)
    symptom_start = models.DateTimeField(null=True, blank=True)
    # {name: {"status": "ok" | "failed" | "skipped", "error": ..., "duration_ms": ..., "findings": n}}
    collectors = models.JSONField(default=dict, blank=True)
    findings = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One run at a time per incident: the claim that keeps two workers from racing.
            models.UniqueConstraint(
                fields=["incident"], condition=Q(finished_at__isnull=True), name="correlation_run_one_running"
            ),
            models.CheckConstraint(
                condition=(Q(status="running") & Q(finished_at__isnull=True))
                | (~Q(status="running") & Q(finished_at__isnull=False)),
                name="correlation_run_finished_iff_not_running",
            ),
        ]
        indexes = [models.Index(fields=["incident", "-started_at"], name="correlation_run_incident_idx")]

    def __str__(self) -> str:
        return f"run {self.pk} of incident {self.incident_id}: {self.status}"
