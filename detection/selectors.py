"""Reads of detection state, scoped to what the user may see.

Rules and alerts belong to the team of their service (or the rule's own team). Staff see
everything. Rules and alerts that belong to no team (org-wide rules such as the seeded ones,
``source_down`` alerts) are visible to every signed-in user, like data sources are: they are
configuration and health, not a team's private business. Changing them is for staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, Q, QuerySet, Value, When

from detection.models import Alert, AlertState, DataSource, DetectionCycle, DetectionRule
from incidents.models import Team

ACTIVE_STATES = (AlertState.PENDING, AlertState.FIRING)
# The status page lists this many active alerts, most severe and oldest first, and a total.
STATUS_ALERT_LIMIT = 200
SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _team_ids(user: Any) -> list[int]:
    return list(Team.objects.filter(members=user).values_list("pk", flat=True))


def visible_rules(*, user: Any) -> QuerySet[DetectionRule]:
    rules = DetectionRule.objects.all()
    if user.is_staff:
        return rules
    teams = _team_ids(user)
    return rules.filter(
        Q(team_id__in=teams)
        | Q(team__isnull=True, service__team_id__in=teams)
        | Q(team__isnull=True, service__isnull=True)
    )


def rule_list_for_user(*, user: Any) -> QuerySet[DetectionRule]:
    """Rules the user may see, with their pending and firing alert counts."""
    return (
        visible_rules(user=user)
        .select_related("source", "service", "team")
        .annotate(
            pending_alerts=Count("alerts", filter=Q(alerts__state=AlertState.PENDING)),
            firing_alerts=Count("alerts", filter=Q(alerts__state=AlertState.FIRING)),
        )
        # Meta.ordering does not apply to a grouped query; pagination needs a stable order.
        .order_by("name", "id")
    )


def alert_list_for_user(*, user: Any, states: list[str] | None = None) -> QuerySet[Alert]:
    alerts = Alert.objects.select_related("rule", "source", "service", "incident")
    if states:
        alerts = alerts.filter(state__in=states)
    if user.is_staff:
        return alerts
    teams = _team_ids(user)
    return alerts.filter(
        Q(service__team_id__in=teams)
        | Q(service__isnull=True, rule__team_id__in=teams)
        | Q(service__isnull=True, rule__team__isnull=True, rule__service__team_id__in=teams)
        | Q(service__isnull=True, rule__team__isnull=True, rule__service__isnull=True)
    )


def source_list() -> QuerySet[DataSource]:
    return DataSource.objects.all()


@dataclass
class DetectionStatus:
    interval_seconds: int
    last_cycle: DetectionCycle | None
    running_cycle: DetectionCycle | None
    rules_enabled: int
    rules_erroring: int
    active_alerts: list[Alert]
    active_alerts_total: int
    sources: list[DataSource]


def detection_status(*, user: Any) -> DetectionStatus:
    """The last finished cycle, one still running, active alerts the user may see, source health."""
    finished = DetectionCycle.objects.filter(finished_at__isnull=False)
    # By id, not started_at: ids grow with time and the primary key index answers at once.
    last = finished.order_by("-id").first()
    running = DetectionCycle.objects.filter(finished_at__isnull=True)
    if last is not None:
        running = running.filter(id__gt=last.pk)
    active = alert_list_for_user(user=user, states=list(ACTIVE_STATES))
    # Firing before pending, then the most severe, then the longest-standing.
    state_rank = Case(When(state=AlertState.FIRING, then=Value(0)), default=Value(1))
    severity_rank = Case(*(When(severity=s, then=Value(i)) for i, s in enumerate(SEVERITY_ORDER)),
                         default=Value(len(SEVERITY_ORDER)))
    ordered = list(active.order_by(state_rank, severity_rank, "active_since", "id")[:STATUS_ALERT_LIMIT])
    rules = visible_rules(user=user).filter(enabled=True)
    return DetectionStatus(
        interval_seconds=settings.DETECTION_INTERVAL_SECONDS,
        last_cycle=last,
        running_cycle=running.order_by("-id").first(),
        rules_enabled=rules.count(),
        rules_erroring=rules.exclude(last_error="").count(),
        active_alerts=ordered,
        active_alerts_total=active.count(),
        sources=list(DataSource.objects.all()),
    )
