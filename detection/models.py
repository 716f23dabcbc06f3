"""Data sources, detection rules kept in the database, alert state per label set, and cycles."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, Service, Severity, Team


class SourceKind(models.TextChoices):
    PROMETHEUS = "prometheus"
    LOKI = "loki"
    KUBERNETES = "kubernetes"


class DataSource(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    url = models.URLField(blank=True, help_text="Base URL; empty for Kubernetes with a kubeconfig or in-cluster.")
    timeout_seconds = models.FloatField(default=10.0)
    enabled = models.BooleanField(default=True)
    verify_tls = models.BooleanField(default=True)
    # Credentials: write-only in the API, never echoed.
    auth_token = models.CharField(max_length=4096, blank=True)
    username = models.CharField(max_length=200, blank=True)
    password = models.CharField(max_length=200, blank=True)
    kubeconfig = models.TextField(blank=True, help_text="A kubeconfig path or inline YAML; empty means in-cluster.")
    context = models.CharField(max_length=200, blank=True)
    # Health, written by the detection cycle.
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


class RuleType(models.TextChoices):
    THRESHOLD = "threshold"
    PATTERN = "pattern"
    ANOMALY = "anomaly"


class Comparator(models.TextChoices):
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="
    EQ = "=="
    NE = "!="


class DetectionRule(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rule_type = models.CharField(max_length=20, choices=RuleType.choices, default=RuleType.THRESHOLD)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="rules")
    # Optional: without it the service is resolved from series labels via Service.telemetry_labels.
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="rules")
    # Who may edit the rule (besides staff); defaults to the service's team.
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="rules")
    query = models.TextField(blank=True, help_text="PromQL, LogQL, or for Kubernetes a label selector.")
    comparator = models.CharField(max_length=2, choices=Comparator.choices, default=Comparator.GT)
    threshold_value = models.FloatField(null=True, blank=True)
    pattern = models.CharField(max_length=60, blank=True, help_text="Pattern rules: a known pattern name.")
    # Rule-type specific knobs, e.g. anomaly window and sensitivity, Kubernetes namespace.
    parameters = models.JSONField(default=dict, blank=True)
    for_seconds = models.PositiveIntegerField(default=0)
    keep_firing_for_seconds = models.PositiveIntegerField(default=0)
    evaluation_interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides DETECTION_INTERVAL_SECONDS for this rule."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True, help_text='e.g. {"summary": ..., "runbook_url": ...}')
    auto_resolve = models.BooleanField(default=False, help_text="Resolve the incident when the alert clears.")
    enabled = models.BooleanField(default=True)
    # Evaluation bookkeeping, written by the cycle.
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    next_evaluation_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.FloatField(null=True, blank=True)
    # What an evaluator must remember between runs, e.g. restart counts for RestartsRising.
    memory = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["enabled", "next_evaluation_at"], name="rule_due_idx")]

    def __str__(self) -> str:
        return self.name


class AlertKind(models.TextChoices):
    RULE = "rule"
    SOURCE_DOWN = "source_down"


class AlertState(models.TextChoices):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(models.Model):
    """The state of one rule for one label set (or of one source, for ``source_down``)."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices, default=AlertKind.RULE)
    rule = models.ForeignKey(DetectionRule, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts")
    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=128, unique=True)
    labels = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.INACTIVE)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    # When the current breach began (pending or firing), first evaluated breach: detection latency.
    active_since = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    last_breach_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    # First breaching evaluation → incident committed; what /metrics reports as detection latency.
    detection_latency_seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["state"], name="alert_state_idx", condition=Q(state__in=["pending", "firing"]))]

    def __str__(self) -> str:
        return f"{self.rule or self.source} {self.state}"


class DetectionCycle(models.Model):
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Chunks run on any worker; the one that completes the last chunk closes the cycle.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    rules_evaluated = models.PositiveIntegerField(default=0)
    rules_errored = models.PositiveIntegerField(default=0)
    alerts_fired = models.PositiveIntegerField(default=0)
    incidents_opened = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"cycle {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
