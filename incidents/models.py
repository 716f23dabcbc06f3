"""Teams, services, incidents and their append-only timeline. No business rules here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    description = models.TextField(blank=True)
    runbook_url = models.URLField(blank=True)
    # How detection and correlation find this service's series, pods and logs,
    # e.g. {"service": "checkout", "namespace": "shop"}.
    telemetry_labels = models.JSONField(default=dict, blank=True)
    depends_on = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Severity(models.TextChoices):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Status(models.TextChoices):
    OPEN = "open"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class IncidentSource(models.TextChoices):
    RULE = "rule"
    WEBHOOK = "webhook"
    MANUAL = "manual"


class Incident(models.Model):
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN)
    # Incidents whose service is unknown are seen by staff only.
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="incidents", null=True, blank=True)
    fingerprint = models.CharField(max_length=128)
    source = models.CharField(max_length=10, choices=IncidentSource.choices, default=IncidentSource.MANUAL)
    labels = models.JSONField(default=dict, blank=True)
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    false_positive = models.BooleanField(default=False)
    impact_started_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    signal_count = models.PositiveIntegerField(default=1)
    # "Seen before": the resolved incident of the same fingerprint that this one follows.
    previous = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Filled by correlation: suggested severity, blast radius, failing share, pods affected.
    impact = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=~Q(status="resolved"),
                name="incident_one_unresolved_per_fingerprint",
            ),
            models.CheckConstraint(
                condition=(Q(status="resolved") & Q(resolved_at__isnull=False))
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="incident_resolved_at_iff_resolved",
            ),
        ]
        indexes = [
            models.Index(fields=["-detected_at", "-id"], name="incident_detected_idx"),
            models.Index(fields=["status", "-detected_at"], name="incident_status_idx"),
            models.Index(fields=["service", "-detected_at"], name="incident_service_idx"),
            models.Index(fields=["severity", "-detected_at"], name="incident_severity_idx"),
            models.Index(fields=["fingerprint", "-resolved_at"], name="incident_fingerprint_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incident-detail", args=[self.pk])


class TimelineKind(models.TextChoices):
    DETECTED = "detected"
    SIGNAL_REPEATED = "signal_repeated"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    STATUS_CHANGED = "status_changed"
    UPDATED = "updated"
    COMMENT = "comment"
    ALERT_FIRED = "alert_fired"
    ALERT_CLEARED = "alert_cleared"
    CORRELATION_FOUND = "correlation_found"
    HYPOTHESIS_CREATED = "hypothesis_created"
    HYPOTHESIS_UPDATED = "hypothesis_updated"
    STEP_CREATED = "step_created"
    STEP_UPDATED = "step_updated"
    STEP_COMPLETED = "step_completed"
    STEP_FAILED = "step_failed"
    RCA_GENERATED = "rca_generated"


class TimelineEvent(models.Model):
    """Append-only: nothing updates or deletes one through the API or admin."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=40, choices=TimelineKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    # The system's name when no person acted, e.g. "detector", "correlator".
    actor_name = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["incident", "at", "id"], name="timeline_incident_at_idx"),
            models.Index(fields=["at", "id"], name="timeline_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}"
