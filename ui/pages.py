"""Page-only reads: what the operator pages show, built on the apps' own selectors.

Scoping always comes from the owning app's selectors (``incident_list_for_user``,
``alert_list_for_user``, ``visible_rules``...), never from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from correlation.selectors import correlation_list
from detection.models import AlertState, DetectionRule
from detection.selectors import DetectionStatus, alert_list_for_user, detection_status, rule_list_for_user
from incidents import analytics, transitions
from incidents.models import Incident, Service, Severity, Status, Team, TimelineEvent
from incidents.selectors import (
    incident_list_for_user,
    incident_stats,
    service_list_for_user,
    teams_for_user,
    timeline_for_incident,
)
from investigation import selectors as investigation
from ui import charts

FEED_LIMIT = 50
TIMELINE_LIMIT = 200
EVIDENCE_LIMIT = 10
INVESTIGATION_LIMIT = 50
UNRESOLVED = "unresolved"
SEVERITY_ORDER = [str(level) for level in Severity.values]

# --- Feed ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFilters:
    status: str = ""  # a Status, "unresolved", or "" for all
    severity: str = ""
    service: str = ""  # a service slug

    @classmethod
    def from_query(cls, query: QueryDict) -> FeedFilters:
        # Unknown values are dropped rather than refused: a stale bookmark still shows a feed.
        status = query.get("status", "")
        severity = query.get("severity", "")
        return cls(
            status=status if status in {UNRESOLVED, *Status.values} else "",
            severity=severity if severity in Severity.values else "",
            service=query.get("service", "")[:100],
        )

    @property
    def active(self) -> bool:
        return bool(self.status or self.severity or self.service)


def feed_incidents(*, user: Any, filters: FeedFilters, limit: int = FEED_LIMIT) -> list[Incident]:
    incidents = incident_list_for_user(user=user).select_related("service", "acknowledged_by")
    if filters.status == UNRESOLVED:
        incidents = incidents.exclude(status=Status.RESOLVED)
    elif filters.status:
        incidents = incidents.filter(status=filters.status)
    if filters.severity:
        incidents = incidents.filter(severity=filters.severity)
    if filters.service:
        incidents = incidents.filter(service__slug=filters.service)
    return list(incidents[:limit])


def feed_filter_choices(*, user: Any) -> dict[str, Any]:
    return {
        "statuses": [(UNRESOLVED, "Unresolved"), *Status.choices],
        "severities": Severity.choices,
        "services": list(service_list_for_user(user=user).values("slug", "name")),
    }


# --- Incident workspace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleAction:
    to: str
    label: str
    needs_note: bool
    false_positive: bool
    primary: bool  # the next step in the lifecycle, drawn as the main button


_ACTION_LABELS = {Status.INVESTIGATING: "Investigate", Status.MITIGATED: "Mitigate", Status.RESOLVED: "Resolve"}


def lifecycle_actions(incident: Incident) -> list[LifecycleAction]:
    """The transitions valid from the incident's status, in lifecycle order (see ``transitions``)."""
    actions = []
    for target in transitions.allowed_targets(incident.status):
        verdict = transitions.check(incident.status, target)
        if verdict.kind is transitions.Kind.REOPEN:
            label = "Reopen"
        elif verdict.false_positive:
            label = "Resolve as false positive"
        else:
            label = _ACTION_LABELS.get(target, target.title())
        actions.append(
            LifecycleAction(
                to=target,
                label=label,
                needs_note=verdict.needs_note,
                false_positive=verdict.false_positive,
                primary=verdict.kind in (transitions.Kind.STEP, transitions.Kind.REOPEN),
            )
        )
    return actions


@dataclass(frozen=True)
class Clocks:
    """MTTA and MTTR of one incident; while still running, the time so far."""

    mtta_seconds: float | None
    mtta_running: bool
    mttr_seconds: float | None
    mttr_running: bool


def incident_clocks(incident: Incident, *, now: datetime | None = None) -> Clocks:
    now = now or timezone.now()
    mtta = analytics.mtta_seconds(incident.detected_at, incident.acknowledged_at)
    mttr = analytics.mttr_seconds(incident.detected_at, incident.resolved_at, incident.impact_started_at)
    return Clocks(
        mtta_seconds=mtta if mtta is not None else analytics.mtta_seconds(incident.detected_at, now),
        mtta_running=mtta is None,
        mttr_seconds=mttr
        if mttr is not None
        else analytics.mttr_seconds(incident.detected_at, now, incident.impact_started_at),
        mttr_running=mttr is None,
    )


def incident_timeline(*, incident: Incident, limit: int = TIMELINE_LIMIT) -> tuple[list[TimelineEvent], bool]:
    """Newest first (what changed last matters most mid-outage), and whether older ones were cut."""
    events = list(timeline_for_incident(incident=incident).order_by("-at", "-id")[: limit + 1])
    return events[:limit], len(events) > limit


def evidence_for(*, incident: Incident, limit: int = EVIDENCE_LIMIT) -> list[Any]:
    """Ranked correlations, best first."""
    return list(correlation_list(incident=incident)[:limit])


@dataclass
class Investigation:
    hypotheses: list[Any] = field(default_factory=list)
    steps: list[Any] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    rca: Any = None

    @property
    def empty(self) -> bool:
        return not (self.hypotheses or self.steps or self.actions or self.rca)


def investigation_for(*, incident: Incident, limit: int = INVESTIGATION_LIMIT) -> Investigation:
    """Hypotheses, steps, recommended actions and the latest RCA."""
    return Investigation(
        hypotheses=list(investigation.hypothesis_list(incident)[:limit]),
        steps=list(investigation.step_list(incident)[:limit]),
        actions=investigation.recommended_actions(incident)[:limit],
        rca=investigation.rca_latest(incident),
    )


# --- Alerts and rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertsDashboard:
    status: DetectionStatus
    firing: int
    pending: int
    updated_at: datetime


def firing_alert_count(*, user: Any) -> int:
    return alert_list_for_user(user=user, states=[AlertState.FIRING]).count()


def alerts_dashboard(*, user: Any) -> AlertsDashboard:
    status = detection_status(user=user)
    firing = firing_alert_count(user=user)
    return AlertsDashboard(
        status=status,
        firing=firing,
        pending=max(status.active_alerts_total - firing, 0),
        updated_at=timezone.now(),
    )


@dataclass(frozen=True)
class RuleRow:
    rule: DetectionRule
    state: str  # disabled, error, firing, pending, ok, new


def rule_rows(*, user: Any) -> list[RuleRow]:
    return [RuleRow(rule=rule, state=_rule_state(rule)) for rule in rule_list_for_user(user=user)]


def _rule_state(rule: DetectionRule) -> str:
    if not rule.enabled:
        return "disabled"
    if rule.last_error:
        return "error"
    if getattr(rule, "firing_alerts", 0):
        return "firing"
    if getattr(rule, "pending_alerts", 0):
        return "pending"
    return "ok" if rule.last_evaluated_at else "new"


# --- Insights -------------------------------------------------------------------------------------

RANGES: dict[str, tuple[str, timedelta]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
}
DEFAULT_RANGE = "30d"


@dataclass(frozen=True)
class InsightsFilters:
    range_key: str = DEFAULT_RANGE
    team: Team | None = None
    service: Service | None = None

    @classmethod
    def from_query(cls, query: QueryDict, *, user: Any) -> InsightsFilters:
        range_key = query.get("range", DEFAULT_RANGE)
        # Looked up among the user's own teams and services: another team's id finds nothing.
        return cls(
            range_key=range_key if range_key in RANGES else DEFAULT_RANGE,
            team=_pick(teams_for_user(user=user), query.get("team")),
            service=_pick(service_list_for_user(user=user), query.get("service")),
        )


def _pick(queryset: QuerySet[Any], slug: str | None) -> Any:
    return queryset.filter(slug=slug).first() if slug else None


def insights(*, user: Any, filters: InsightsFilters, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    span = RANGES[filters.range_key][1]
    stats = incident_stats(user=user, since=now - span, until=now, team=filters.team, service=filters.service)
    # Per hour over a day (24 columns), per day beyond: either way a chart of 24 to 90 columns.
    hourly = span <= timedelta(days=2)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    buckets = charts.fill_buckets(
        stats["per_hour" if hourly else "per_day"], since=stats["since"], until=stats["until"], step=step
    )
    label_format = "%H:%M" if hourly else "%b %d"
    by_severity = {row["severity"]: row for row in stats["by_severity"]}
    return {
        "stats": stats,
        "per_period": charts.column_chart([(at.strftime(label_format), count) for at, count in buckets]),
        "per_period_unit": "hour" if hourly else "day",
        "severity_segments": charts.stacked_bar(stats["severity_distribution"], order=SEVERITY_ORDER),
        "severity_total": sum(stats["severity_distribution"].values()),
        "mtta_by_severity": charts.range_bars(
            (level, row["mtta"]["median"], row["mtta"]["p90"]) for level, row in by_severity.items()
        ),
        "mttr_by_severity": charts.range_bars(
            (level, row["mttr"]["median"], row["mttr"]["p90"]) for level, row in by_severity.items()
        ),
        "by_service": stats["by_service"][:10],
    }


def insights_filter_choices(*, user: Any) -> dict[str, Any]:
    return {
        "ranges": [(key, label) for key, (label, _) in RANGES.items()],
        "teams": list(teams_for_user(user=user).values("slug", "name")),
        "services": list(service_list_for_user(user=user).values("slug", "name")),
    }
