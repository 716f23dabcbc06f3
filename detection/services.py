"""Writes of the detection engine: alert states, incidents from firing alerts, source health.

Every operator-visible change publishes an ``alert`` event after commit; incidents are only ever
written through ``incidents.services``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from detection.alert_states import FIRING, INACTIVE, PENDING, RESOLVED, AlertSnapshot, next_snapshot
from detection.evaluation import Evaluation
from detection.evaluators import Breach, fingerprint
from detection.models import Alert, AlertKind, AlertState, DataSource, DetectionRule
from incidents import services as incident_services
from incidents.models import IncidentSource, Service, Status, TimelineKind
from realtime.events import publish

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "detector"


@dataclass
class ApplyOutcome:
    fired: int = 0
    incidents_opened: int = 0


def service_for_labels(labels: dict[str, str], services: Sequence[Service]) -> Service | None:
    """The service whose telemetry labels all appear in ``labels``; the most specific one wins."""
    best: Service | None = None
    for service in services:
        wanted = service.telemetry_labels or {}
        matches = wanted and all(labels.get(k) == str(v) for k, v in wanted.items())
        if matches and (best is None or len(wanted) > len(best.telemetry_labels)):
            best = service
    return best


def rule_evaluation_apply(
    *, rule: DetectionRule, evaluation: Evaluation, now: datetime, services: Sequence[Service],
    alerts: Iterable[Alert] = (),
) -> ApplyOutcome:
    """Move each alert of ``rule`` through its states given ``evaluation``; open incidents on firing.

    ``alerts`` are the rule's current non-inactive alerts (loaded by the caller for a whole chunk).
    Requires a successful evaluation: a failed query must never clear or fire anything.
    """
    outcome = ApplyOutcome()
    existing = {alert.fingerprint: alert for alert in alerts}
    breaches = {fingerprint(rule.pk, b.labels): b for b in evaluation.breaches}
    # A breach may revive an alert that resolved earlier: its row (unique fingerprint) is reused.
    missing = [fp for fp in breaches if fp not in existing]
    if missing:
        revived = Alert.objects.select_related("service").filter(fingerprint__in=missing)
        existing.update({alert.fingerprint: alert for alert in revived})
    with transaction.atomic():
        for fp, breach in breaches.items():
            alert = existing.get(fp) or _new_alert(rule, fp, breach, services)
            _step(alert, rule, breach, now, outcome)
        for fp, alert in existing.items():
            if fp not in breaches:
                _step(alert, rule, None, now, outcome)
    return outcome


def _new_alert(rule: DetectionRule, fp: str, breach: Breach, services: Sequence[Service]) -> Alert:
    return Alert(
        kind=AlertKind.RULE,
        rule=rule,
        source_id=rule.source_id,
        fingerprint=fp,
        labels=breach.labels,
        severity=rule.severity,
        service=rule.service or service_for_labels(breach.labels, services),
    )


def _step(alert: Alert, rule: DetectionRule, breach: Breach | None, now: datetime, outcome: ApplyOutcome) -> None:
    before = AlertSnapshot(alert.state, alert.active_since, alert.fired_at, alert.last_breach_at, alert.resolved_at)
    after = next_snapshot(
        before,
        breaching=breach is not None,
        now=now,
        for_seconds=rule.for_seconds,
        keep_firing_for_seconds=rule.keep_firing_for_seconds,
    )
    alert.state, alert.active_since, alert.fired_at = after.state, after.active_since, after.fired_at
    alert.last_breach_at, alert.resolved_at = after.last_breach_at, after.resolved_at
    if breach is not None:
        alert.value = breach.value
        alert.message = breach.reason
    alert.updated_at = now
    if before.state == PENDING and after.state == INACTIVE:
        # A pending alert that clears vanishes without a trace, as in Prometheus.
        alert.incident = None
    alert.save()

    if after.state == FIRING and before.state != FIRING:
        outcome.fired += 1
        if _open_incident(alert, rule, now) == "opened":
            outcome.incidents_opened += 1
        _publish_alert(alert, rule)
    elif after.state == FIRING and alert.incident_id:
        _attach_signal(alert, rule, now)
    elif after.state == RESOLVED and before.state == FIRING:
        _clear(alert, rule)
        _publish_alert(alert, rule)


def _incident_fingerprint(alert: Alert, rule: DetectionRule) -> str:
    # One incident per rule and service: a rule firing for ten pods of checkout is one problem.
    if alert.service_id:
        return fingerprint(rule.pk, {"service_id": str(alert.service_id)})
    return alert.fingerprint


def _title(alert: Alert, rule: DetectionRule) -> str:
    where = alert.service.name if alert.service else ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    return f"[{rule.severity}] {rule.name} — {where or 'all series'}"[:300]


def _signal_data(alert: Alert, rule: DetectionRule) -> dict[str, Any]:
    return {
        "rule_id": rule.pk,
        "rule": rule.name,
        "alert_id": alert.pk,
        "query": rule.query,
        "value": _finite(alert.value),
        "labels": alert.labels,
        "threshold": rule.threshold_value,
        "comparator": rule.comparator,
    }


def _open_incident(alert: Alert, rule: DetectionRule, now: datetime) -> str:
    incident, result = incident_services.incident_open_or_attach(
        fingerprint=_incident_fingerprint(alert, rule),
        title=_title(alert, rule),
        severity=rule.severity,
        service=alert.service,
        source=IncidentSource.RULE,
        labels={**rule.labels, **alert.labels},
        description=rule.annotations.get("summary", "") or rule.description,
        message=f"{rule.name} fired: {alert.message or alert.value}",
        data=_signal_data(alert, rule),
        actor_name=SYSTEM_ACTOR,
        at=now,
    )
    if result != "opened":
        incident_services.timeline_event_add(
            incident=incident,
            kind=TimelineKind.ALERT_FIRED,
            message=f"{rule.name} fired: {alert.message or alert.value}",
            data=_signal_data(alert, rule),
            actor_name=SYSTEM_ACTOR,
        )
    alert.incident = incident
    if alert.active_since is not None:
        alert.detection_latency_seconds = max((timezone.now() - alert.active_since).total_seconds(), 0.0)
    alert.save(update_fields=["incident", "detection_latency_seconds"])
    return result


def _attach_signal(alert: Alert, rule: DetectionRule, now: datetime) -> None:
    incident = alert.incident
    if incident is None or incident.status == Status.RESOLVED:
        # Resolved by a person while still breaching: the signal reopens or opens as the
        # incidents service decides (reopen window, "seen before").
        _open_incident(alert, rule, now)
        return
    incident_services.incident_open_or_attach(
        fingerprint=incident.fingerprint,
        title=incident.title,
        severity=rule.severity,
        service=alert.service,
        source=IncidentSource.RULE,
        message=f"{rule.name} still firing: {alert.value}",
        data=_signal_data(alert, rule),
        actor_name=SYSTEM_ACTOR,
        at=now,
    )


def _clear(alert: Alert, rule: DetectionRule) -> None:
    incident = alert.incident
    if incident is None:
        return
    incident_services.timeline_event_add(
        incident=incident,
        kind=TimelineKind.ALERT_CLEARED,
        message=f"{rule.name} cleared",
        data=_signal_data(alert, rule),
        actor_name=SYSTEM_ACTOR,
    )
    incident.refresh_from_db()
    if rule.auto_resolve and incident.status != Status.RESOLVED:
        incident_services.incident_transition(
            incident=incident, to=Status.RESOLVED, user=None, note=f"Auto-resolved: {rule.name} cleared."
        )


def rule_alerts_retire(*, rule: DetectionRule, now: datetime) -> None:
    """A disabled rule stops watching: its pending alerts vanish and its firing ones clear."""
    for alert in Alert.objects.select_related("service", "incident", "source").filter(
        rule=rule, state__in=[AlertState.PENDING, AlertState.FIRING]
    ):
        was_firing = alert.state == AlertState.FIRING
        alert.state = AlertState.RESOLVED if was_firing else AlertState.INACTIVE
        alert.resolved_at = now if was_firing else None
        alert.updated_at = now
        alert.message = "rule disabled"
        alert.save(update_fields=["state", "resolved_at", "updated_at", "message"])
        if was_firing:
            _clear(alert, rule)
            _publish_alert(alert, rule)


def _finite(value: float | None) -> float | None:
    # Strict JSON has no NaN or Infinity; a p95 past the last bucket is +Inf in PromQL.
    return value if value is not None and math.isfinite(value) else None


def alert_payload(alert: Alert) -> dict[str, Any]:
    rule = alert.rule
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "state": alert.state,
        "severity": alert.severity,
        "rule": {"id": rule.pk, "name": rule.name} if rule else None,
        "source": {"id": alert.source_id, "name": alert.source.name},
        "service": {"id": alert.service.pk, "slug": alert.service.slug, "name": alert.service.name}
        if alert.service
        else None,
        "labels": alert.labels,
        "value": _finite(alert.value),
        "message": alert.message,
        "since": alert.active_since.isoformat() if alert.active_since else None,
        "incident_id": alert.incident_id,
    }


def _alert_teams(alert: Alert, rule: DetectionRule | None) -> list[int]:
    if alert.service is not None:
        return [alert.service.team_id]
    if rule is not None and rule.team_id:
        return [rule.team_id]
    return []


def _publish_alert(alert: Alert, rule: DetectionRule | None) -> None:
    publish("alert", alert_payload(alert), teams=_alert_teams(alert, rule))


# --- Rule and source health -------------------------------------------------------------------


def rule_bookkeeping(rule: DetectionRule, *, now: datetime, next_at: datetime, duration_ms: float,
                     evaluation: Evaluation | None = None, error: str = "") -> None:
    """Set the evaluation fields on ``rule`` in memory; the caller saves a chunk at once."""
    rule.last_evaluated_at = now
    rule.next_evaluation_at = next_at
    rule.last_duration_ms = duration_ms
    if evaluation is not None:
        rule.last_value = evaluation.value
        rule.last_error = ""
        if evaluation.memory:
            rule.memory = evaluation.memory
    else:
        rule.last_error = error[:2000]
        rule.last_error_at = now


def source_down_fingerprint(source: DataSource) -> str:
    return f"source_down:{source.pk}"


def source_failure_record(*, source: DataSource, error: str, now: datetime) -> None:
    """Mark ``source`` unhealthy and raise one ``source_down`` alert (never an incident)."""
    with transaction.atomic():
        source = DataSource.objects.select_for_update().get(pk=source.pk)
        source.consecutive_failures += 1
        source.last_error = error[:2000]
        source.last_error_at = now
        source.save(update_fields=["consecutive_failures", "last_error", "last_error_at"])
        alert, _ = Alert.objects.select_for_update().get_or_create(
            fingerprint=source_down_fingerprint(source),
            defaults={"kind": AlertKind.SOURCE_DOWN, "source": source, "labels": {"source": source.name}},
        )
        alert.value = float(source.consecutive_failures)
        alert.message = f"{source.name} unreachable: {error}"[:2000]
        alert.updated_at = now
        newly_down = alert.state != AlertState.FIRING
        if newly_down:
            alert.state = AlertState.FIRING
            alert.active_since = alert.fired_at = now
            alert.resolved_at = None
            logger.warning("source %s is down: %s", source.name, error)
        alert.save()
        if newly_down:
            publish("alert", alert_payload(alert), teams=_source_teams(source))


def source_success_record(*, source: DataSource, now: datetime) -> None:
    """Mark ``source`` healthy; resolve its ``source_down`` alert if one is firing."""
    # The common case, already healthy, is one unlocked UPDATE: chunks on many workers call this.
    if DataSource.objects.filter(pk=source.pk, consecutive_failures=0).update(last_ok_at=now):
        return
    with transaction.atomic():
        DataSource.objects.filter(pk=source.pk).update(last_ok_at=now, consecutive_failures=0)
        alert = (
            Alert.objects.select_for_update()
            .filter(fingerprint=source_down_fingerprint(source), state=AlertState.FIRING)
            .first()
        )
        if alert is not None:
            alert.state = AlertState.RESOLVED
            alert.resolved_at = alert.updated_at = now
            alert.message = f"{source.name} is reachable again"
            alert.save()
            publish("alert", alert_payload(alert), teams=_source_teams(source))


def _source_teams(source: DataSource) -> list[int]:
    teams = DetectionRule.objects.filter(source=source).values_list("team_id", "service__team_id")
    return sorted({team for pair in teams for team in pair if team})
