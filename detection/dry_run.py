"""Evaluate one rule now and say what the cycle would do with the result, changing nothing.

The same ``evaluate_rule`` and the same alert state machine as the cycle, fed with the rule's
current alert states, but nothing is saved: no alert, no incident, no bookkeeping on the rule,
no source health. Operators use it to check a rule before trusting it (API ``test`` action,
admin "Test now").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from detection.alert_states import FIRING, INACTIVE, PENDING, RESOLVED, AlertSnapshot, next_snapshot
from detection.clients import client_for
from detection.evaluation import RuleConfigError, evaluate_rule
from detection.evaluators import fingerprint
from detection.models import Alert, AlertState, DetectionRule
from detection.sources import AccessDenied, BadQuery, BadResponse, SourceError, SourceUnavailable


@dataclass
class AlertChange:
    fingerprint: str
    labels: dict[str, str]
    breaching: bool
    state_before: str
    state_after: str
    value: float | None = None
    reason: str = ""
    alert_id: int | None = None
    # True when this step would open (or attach to) an incident.
    opens_incident: bool = False


@dataclass
class DryRun:
    rule_id: int
    evaluated_at: datetime
    ok: bool
    duration_ms: float
    error: str = ""
    # "bad_query", "unavailable", "bad_response", "access_denied", "config" or "" when ok.
    error_kind: str = ""
    series_count: int = 0
    value: float | None = None
    breaches: list[AlertChange] = field(default_factory=list)
    would_fire: list[AlertChange] = field(default_factory=list)
    would_clear: list[AlertChange] = field(default_factory=list)
    changes: list[AlertChange] = field(default_factory=list)

    def summary(self) -> str:
        if not self.ok:
            return f"{self.error_kind}: {self.error}"
        parts = [f"{self.series_count} series", f"{len(self.breaches)} breaching"]
        if self.would_fire:
            parts.append("would fire: " + "; ".join(_describe(c) for c in self.would_fire))
        if self.would_clear:
            parts.append("would clear: " + "; ".join(_describe(c) for c in self.would_clear))
        return ", ".join(parts)


def rule_dry_run(*, rule: DetectionRule, now: datetime | None = None, client: Any = None) -> DryRun:
    """Query ``rule``'s source and step its alerts through the state machine in memory only.

    Source and configuration failures are part of the answer (``ok=False``), not exceptions:
    "the source did not answer" is exactly what a test of a rule should report.
    """
    now = now or timezone.now()
    started = time.perf_counter()
    try:
        evaluation = evaluate_rule(rule, client=client or client_for(rule.source), now=now)
    except (SourceError, RuleConfigError, ValueError) as exc:
        return DryRun(rule_id=rule.pk, evaluated_at=now, ok=False, duration_ms=_ms(started),
                      error=getattr(exc, "message", None) or str(exc), error_kind=_error_kind(exc))

    result = DryRun(rule_id=rule.pk, evaluated_at=now, ok=True, duration_ms=_ms(started),
                    series_count=evaluation.series_count, value=evaluation.value)
    breaches = {fingerprint(rule.pk, b.labels): b for b in evaluation.breaches}
    alerts = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(rule=rule).filter(
            Q(state__in=[AlertState.PENDING, AlertState.FIRING]) | Q(fingerprint__in=list(breaches))
        )
    }
    for fp in sorted(set(breaches) | set(alerts)):
        breach, alert = breaches.get(fp), alerts.get(fp)
        before = _snapshot(alert)
        if breach is None and before.state not in (PENDING, FIRING):
            continue  # a resolved alert that stays quiet changes nothing
        after = next_snapshot(before, breaching=breach is not None, now=now, for_seconds=rule.for_seconds,
                              keep_firing_for_seconds=rule.keep_firing_for_seconds)
        change = AlertChange(
            fingerprint=fp,
            labels=dict(breach.labels if breach is not None else alert.labels),
            breaching=breach is not None,
            state_before=before.state,
            state_after=after.state,
            value=breach.value if breach is not None else None,
            reason=breach.reason if breach is not None else "",
            alert_id=alert.pk if alert is not None else None,
            opens_incident=after.state == FIRING and before.state != FIRING,
        )
        result.changes.append(change)
        if change.breaching:
            result.breaches.append(change)
        if change.opens_incident:
            result.would_fire.append(change)
        elif before.state == FIRING and after.state == RESOLVED:
            result.would_clear.append(change)
    return result


def _snapshot(alert: Alert | None) -> AlertSnapshot:
    if alert is None:
        return AlertSnapshot(state=INACTIVE)
    return AlertSnapshot(alert.state, alert.active_since, alert.fired_at, alert.last_breach_at, alert.resolved_at)


def _error_kind(exc: Exception) -> str:
    for kind, cls in (("bad_query", BadQuery), ("access_denied", AccessDenied), ("unavailable", SourceUnavailable),
                      ("bad_response", BadResponse)):
        if isinstance(exc, cls):
            return kind
    return "config" if isinstance(exc, (RuleConfigError, ValueError)) else "source_error"


def _describe(change: AlertChange) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(change.labels.items())) or "all series"
    return f"{{{labels}}} = {change.value:g}" if change.value is not None else f"{{{labels}}}"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
