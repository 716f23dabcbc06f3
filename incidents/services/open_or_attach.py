"""Detection's entry point: one unresolved incident per fingerprint, reopened or seen before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Incident, IncidentSource, Service, Status, TimelineEvent, TimelineKind
from incidents.services._common import (
    FINGERPRINT_MAX_LENGTH,
    SEVERITY_RANK,
    TITLE_MAX_LENGTH,
    _check_severity,
    _clear_resolution,
    _clip,
    _duration,
    _event,
    _publish,
)
from incidents.services.followups import incident_opened_followups
from reliability_studio.lib.errors import DomainError

OPENED, ATTACHED, REOPENED = "opened", "attached", "reopened"

# Overridable in Django settings; deliberately not environment variables.
DEFAULT_REOPEN_WINDOW_SECONDS = 3600
DEFAULT_SIGNAL_REPEAT_EVENT_SECONDS = 300


def reopen_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "REOPEN_WINDOW_SECONDS", DEFAULT_REOPEN_WINDOW_SECONDS))


def signal_repeat_event_interval() -> timedelta:
    seconds = getattr(settings, "SIGNAL_REPEAT_EVENT_SECONDS", DEFAULT_SIGNAL_REPEAT_EVENT_SECONDS)
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class _Signal:
    fingerprint: str
    title: str
    severity: str
    service: Service | None
    source: str
    labels: dict[str, Any]
    description: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    actor_name: str = "detector"
    at: datetime = field(default_factory=timezone.now)


def incident_open_or_attach(
    *,
    fingerprint: str,
    title: str,
    severity: str,
    service: Service | None,
    source: str = IncidentSource.RULE,
    labels: dict | None = None,
    description: str = "",
    message: str = "",
    data: dict | None = None,
    actor_name: str = "detector",
    at: datetime | None = None,
) -> tuple[Incident, str]:
    """Record a firing signal: attach it to the fingerprint's unresolved incident, or reopen or open one.

    Returns the incident and ``"attached"``, ``"reopened"`` or ``"opened"``.

    * An unresolved incident with this fingerprint gets ``signal_count + 1`` and ``last_seen_at``;
      a ``signal_repeated`` event is written at most once per ``SIGNAL_REPEAT_EVENT_SECONDS``.
      A more severe signal raises the incident's severity (never lowers it).
    * Else, if the latest incident of this fingerprint was resolved less than
      ``REOPEN_WINDOW_SECONDS`` before ``at``, it is reopened (``reopened`` event).
    * Else a new incident is opened (``detected`` event), linked to the last resolved one as
      ``previous`` ("seen before").

    Safe under concurrency: the partial unique constraint lets one opener win; the loser's
    insert fails inside a savepoint and the loser attaches to the winner's incident.
    """
    _check_severity(severity)
    if not fingerprint or len(fingerprint) > FINGERPRINT_MAX_LENGTH:
        raise DomainError(
            f"A fingerprint of 1 to {FINGERPRINT_MAX_LENGTH} characters is required.", field="fingerprint"
        )
    if source not in IncidentSource.values:
        raise DomainError(f"Unknown source {source!r}: one of {', '.join(IncidentSource.values)}.", field="source")
    signal = _Signal(
        fingerprint=fingerprint,
        title=_clip(title.strip() or fingerprint, TITLE_MAX_LENGTH),
        severity=severity,
        service=service,
        source=source,
        labels=labels or {},
        description=description,
        message=message,
        data=data or {},
        actor_name=actor_name,
        at=at or timezone.now(),
    )
    with transaction.atomic():
        current = _unresolved_for_update(fingerprint)
        if current is not None:
            return _attach(current, signal), ATTACHED
        try:
            with transaction.atomic():
                incident, outcome = _reopen_or_open(signal)
            incident_opened_followups(incident.pk)
            return incident, outcome
        except IntegrityError:
            # A concurrent opener committed an unresolved incident for this fingerprint between
            # our read and our write: the constraint made us lose, so join the winner.
            current = _unresolved_for_update(fingerprint)
            if current is None:
                raise
            return _attach(current, signal), ATTACHED


def _unresolved_for_update(fingerprint: str) -> Incident | None:
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("service")
        .filter(fingerprint=fingerprint)
        .exclude(status=Status.RESOLVED)
        .first()
    )


def _attach(incident: Incident, signal: _Signal) -> Incident:
    # The row is locked, so a plain increment cannot lose a concurrent signal.
    incident.signal_count += 1
    incident.last_seen_at = max(incident.last_seen_at, signal.at)
    fields = ["signal_count", "last_seen_at"]
    if _raise_severity(incident, signal):
        fields.append("severity")
    if _signal_event_due(incident, signal.at):
        _event(
            incident,
            TimelineKind.SIGNAL_REPEATED,
            at=signal.at,
            message=signal.message or f"The signal is still firing ({incident.signal_count} signals so far).",
            data={**signal.data, "signal_count": incident.signal_count},
            actor_name=signal.actor_name,
        )
    incident.save(update_fields=fields)
    # Published on every signal, not only with an event: pages show a live last-seen time.
    _publish("incident_updated", incident)
    return incident


def _signal_event_due(incident: Incident, at: datetime) -> bool:
    # A rule firing every cycle must not bury the timeline: at most one event per interval.
    last = (
        TimelineEvent.objects.filter(
            incident=incident,
            kind__in=[TimelineKind.DETECTED, TimelineKind.SIGNAL_REPEATED, TimelineKind.REOPENED],
        )
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    return last is None or at - last >= signal_repeat_event_interval()


def _raise_severity(incident: Incident, signal: _Signal) -> bool:
    if SEVERITY_RANK[signal.severity] >= SEVERITY_RANK[incident.severity]:
        return False
    _event(
        incident,
        TimelineKind.UPDATED,
        at=signal.at,
        message=f"Severity raised from {incident.severity} to {signal.severity} by a new signal.",
        data={"changes": {"severity": [incident.severity, signal.severity]}},
        actor_name=signal.actor_name,
    )
    incident.severity = signal.severity
    return True


def _reopen_or_open(signal: _Signal) -> tuple[Incident, str]:
    last_resolved = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("service")
        .filter(fingerprint=signal.fingerprint, status=Status.RESOLVED)
        .order_by("-resolved_at", "-id")
        .first()
    )
    if last_resolved is not None and last_resolved.resolved_at >= signal.at - reopen_window():
        return _reopen(last_resolved, signal), REOPENED
    return _open(signal, previous=last_resolved), OPENED


def _reopen(incident: Incident, signal: _Signal) -> Incident:
    resolved_at = incident.resolved_at
    # Someone already worked on it: back to investigating. Never acknowledged: it is news again.
    incident.status = Status.INVESTIGATING if incident.acknowledged_at else Status.OPEN
    _clear_resolution(incident)
    incident.signal_count += 1
    incident.last_seen_at = max(incident.last_seen_at, signal.at)
    fields = ["status", "resolved_at", "mitigated_at", "resolution_note", "false_positive"]
    fields += ["signal_count", "last_seen_at"]
    if _raise_severity(incident, signal):
        fields.append("severity")
    incident.save(update_fields=fields)
    after = _duration(signal.at - resolved_at)
    _event(
        incident,
        TimelineKind.REOPENED,
        at=signal.at,
        message=f"Reopened: the signal came back {after} after it was resolved."
        + (f" {signal.message}" if signal.message else ""),
        data={**signal.data, "from": Status.RESOLVED, "to": incident.status, "resolved_at": resolved_at.isoformat()},
        actor_name=signal.actor_name,
    )
    _publish("incident_updated", incident)
    return incident


def _open(signal: _Signal, *, previous: Incident | None) -> Incident:
    incident = Incident.objects.create(
        title=signal.title,
        description=signal.description,
        severity=signal.severity,
        status=Status.OPEN,
        service=signal.service,
        fingerprint=signal.fingerprint,
        source=signal.source,
        labels=signal.labels,
        detected_at=signal.at,
        last_seen_at=signal.at,
        signal_count=1,
        previous=previous,
    )
    message = signal.message or signal.title
    data = dict(signal.data)
    if previous is not None:
        message += f" Seen before: #{previous.pk}, resolved {previous.resolved_at:%Y-%m-%d %H:%M} UTC."
        data["previous_id"] = previous.pk
    _event(incident, TimelineKind.DETECTED, at=signal.at, message=message, data=data, actor_name=signal.actor_name)
    _publish("incident_created", incident)
    return incident
