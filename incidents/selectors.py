"""Reads that need more than one line: always scoped to what the user may see."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, FloatField, Func, Max, Q, QuerySet
from django.utils import timezone

from incidents import analytics
from incidents.models import Incident, Service, Severity, Team, TimelineEvent
from reliability_studio.lib.errors import DomainError

# Stats read one row per incident into Python (percentiles work the same on PostgreSQL and
# SQLite that way); these bounds keep one request's memory and time small.
STATS_DEFAULT_RANGE = timedelta(days=30)
STATS_MAX_RANGE = timedelta(days=366)
STATS_MAX_INCIDENTS = 200_000


def teams_for_user(*, user: Any) -> QuerySet[Team]:
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(members=user)


def service_list_for_user(*, user: Any) -> QuerySet[Service]:
    if user.is_staff:
        return Service.objects.all()
    return Service.objects.filter(team__members=user)


def incident_list_for_user(*, user: Any) -> QuerySet[Incident]:
    """Staff see every incident; others only those of their teams' services."""
    if user.is_staff:
        return Incident.objects.all()
    # A subquery, not a join through the members table: the planner can walk the
    # detected_at index and test each row against the (small) set of the user's services.
    return Incident.objects.filter(service__in=Service.objects.filter(team__in=_team_ids(user)).values("pk"))


def _team_ids(user: Any) -> QuerySet[Any]:
    return Team.members.through.objects.filter(user=user).values("team_id")


def timeline_for_incident(*, incident: Incident) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(incident=incident).select_related("actor")


# --- Stats ---------------------------------------------------------------------------------------


class _Epoch(Func):
    """Seconds since 1970 as a float: ten times cheaper to load than datetimes, on both backends."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # julianday() keeps milliseconds; callers round to them.
        return self.as_sql(compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)")


@dataclass
class _Group:
    count: int = 0
    resolved: int = 0
    false_positives: int = 0
    mtta: list[float] = field(default_factory=list)
    mttr: list[float] = field(default_factory=list)
    mttf: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "resolved": self.resolved,
            "false_positives": self.false_positives,
            "false_positive_rate": round(self.false_positives / self.resolved, 4) if self.resolved else None,
            "mtta": analytics.summarize(self.mtta),
            "mttr": analytics.summarize(self.mttr),
            "mttf": analytics.summarize(self.mttf),
        }


def incident_stats(
    *,
    user: Any,
    since: datetime | None = None,
    until: datetime | None = None,
    team: Team | None = None,
    service: Service | None = None,
    severity: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """MTTA, MTTR and MTTF (mean, median, p90), overall and per team, service and severity;
    severity distribution; incidents per hour and per day; false-positive rate.

    Counts the incidents the user may see detected in ``[since, until)`` (default: the last 30
    days, at most 366). See ``incidents.analytics`` for the definitions. Percentiles are
    computed here, in Python, so that PostgreSQL and SQLite give the same numbers.
    """
    until = until or now or timezone.now()
    since = since or until - STATS_DEFAULT_RANGE
    if since >= until:
        raise DomainError("since must be before until.", field="since")
    if until - since > STATS_MAX_RANGE:
        raise DomainError(f"The range spans at most {STATS_MAX_RANGE.days} days.", field="since")

    scoped = incident_list_for_user(user=user)
    if team is not None:
        scoped = scoped.filter(service__team=team)
    if service is not None:
        scoped = scoped.filter(service=service)
    rows = list(
        scoped.filter(detected_at__gte=since, detected_at__lt=until)
        .order_by()
        .annotate(
            detected_s=_Epoch("detected_at"),
            acknowledged_s=_Epoch("acknowledged_at"),
            resolved_s=_Epoch("resolved_at"),
            impact_s=_Epoch("impact_started_at"),
        )
        .values_list(
            "id", "service_id", "service__team_id", "severity",
            "detected_s", "acknowledged_s", "resolved_s", "impact_s", "false_positive",
        )[: STATS_MAX_INCIDENTS + 1]
    )  # fmt: skip
    if len(rows) > STATS_MAX_INCIDENTS:
        raise DomainError("Too many incidents in this range: narrow it or filter it.", field="since")

    # MTTF needs every severity (any incident ends a failure-free period): filter after it.
    mttf_by_id = dict(_mttf_samples(rows, since=since))
    groups: dict[tuple[str, Any], _Group] = defaultdict(_Group)
    per_hour: Counter[int] = Counter()
    per_day: Counter[int] = Counter()
    for incident_id, service_id, team_id, level, detected, acknowledged, resolved, impact, false_positive in rows:
        if severity is not None and level != severity:
            continue
        keys = [("all", None), ("severity", level)]
        if service_id is not None:
            keys += [("service", service_id), ("team", team_id)]
        for key in keys:
            group = groups[key]
            group.count += 1
            if acknowledged is not None:
                group.mtta.append(acknowledged - detected)
            if resolved is not None:
                group.resolved += 1
                if false_positive:
                    group.false_positives += 1
                else:
                    group.mttr.append(resolved - (impact if impact is not None else detected))
            if incident_id in mttf_by_id:
                group.mttf.append(mttf_by_id[incident_id])
        hour = math.floor(round(detected, 3) / 3600)
        per_hour[hour] += 1
        per_day[hour // 24] += 1

    names = _group_names(groups)
    return {
        "since": since,
        "until": until,
        **groups[("all", None)].as_dict(),
        "severity_distribution": {level: groups[("severity", level)].count for level in Severity.values},
        "per_hour": [{"start": _from_epoch(hour * 3600), "count": n} for hour, n in sorted(per_hour.items())],
        "per_day": [{"start": _from_epoch(day * 86400), "count": n} for day, n in sorted(per_day.items())],
        "by_team": _ranked(groups, "team", names["team"]),
        "by_service": _ranked(groups, "service", names["service"]),
        "by_severity": [
            {"severity": level, **groups[("severity", level)].as_dict()}
            for level in Severity.values
            if groups[("severity", level)].count
        ],
    }


def _mttf_samples(rows: list[tuple], *, since: datetime) -> list[tuple[int, float]]:
    per_service: dict[int, list[analytics.Outage]] = defaultdict(list)
    for incident_id, service_id, _, _, detected, _, resolved, _, false_positive in rows:
        if service_id is not None and not false_positive:
            per_service[service_id].append(analytics.Outage(incident_id, detected, resolved))
    if not per_service:
        return []
    # Where each service stood when the range began: one grouped query, not one per service.
    before = (
        Incident.objects.filter(service_id__in=list(per_service), detected_at__lt=since, false_positive=False)
        .order_by()
        .values("service_id")
        .annotate(last_resolved=Max(_Epoch("resolved_at")), unresolved=Count("id", filter=Q(resolved_at__isnull=True)))
    )
    state = {entry["service_id"]: entry for entry in before}
    samples: list[tuple[int, float]] = []
    for service_id, outages in per_service.items():
        prior = state.get(service_id, {})
        samples += analytics.failure_free_periods(
            outages, busy_until=prior.get("last_resolved"), still_unresolved=bool(prior.get("unresolved"))
        )
    return samples


def _ranked(groups: dict[tuple[str, Any], _Group], kind: str, names: dict[int, Any]) -> list[dict[str, Any]]:
    """One entry per team or service, the busiest first."""
    entries = [(key[1], group) for key, group in groups.items() if key[0] == kind]
    entries.sort(key=lambda entry: (-entry[1].count, entry[0]))
    return [{kind: names.get(pk), **group.as_dict()} for pk, group in entries]


def _group_names(groups: dict[tuple[str, Any], _Group]) -> dict[str, dict[int, dict[str, Any]]]:
    service_ids = [key[1] for key in groups if key[0] == "service"]
    team_ids = [key[1] for key in groups if key[0] == "team"]
    return {
        "service": {s["id"]: s for s in Service.objects.filter(pk__in=service_ids).values("id", "slug", "name")},
        "team": {t["id"]: t for t in Team.objects.filter(pk__in=team_ids).values("id", "slug", "name")},
    }


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
