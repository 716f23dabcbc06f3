"""Every write of correlation: runs, correlations, and the impact stored on the incident.

``incident_correlate`` is the one entry point. It reads what the collectors need in the calling
thread, runs them side by side (threads; no database there), then in one transaction upserts
the ranked correlations by (incident, kind, key), retires the ones a collector that answered no
longer finds, stores the impact, and writes a ``correlation_found`` timeline event plus a
realtime ``correlation_found`` (sent after commit) for each new or changed correlation.
It never changes the incident's status.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from correlation import scoring
from correlation.collectors import Outcome, run_collectors
from correlation.collectors.base import (
    CollectContext,
    Collector,
    ServiceRef,
    Unavailable,
)
from correlation.collectors.kubernetes import KubernetesCollector
from correlation.collectors.logs import LogsCollector
from correlation.collectors.metrics import MetricsCollector
from correlation.collectors.traces import TracesCollector
from correlation.config import CorrelationConfig, correlation_config
from correlation.graph import dependencies
from correlation.impact import assess_impact
from correlation.models import Correlation, CorrelationRun, RunStatus, RunTrigger
from detection.clients import client_for
from detection.models import DataSource, SourceKind
from incidents.models import Incident, Service, Status, TimelineKind
from incidents.services import timeline_event_add
from realtime.events import publish
from realtime.payloads import incident_teams, service_payload, timeline_event_payload
from reliability_studio.lib.errors import Conflict

logger = logging.getLogger(__name__)

ACTOR = "correlator"
KINDS = {
    "kubernetes": frozenset({"infrastructure", "change"}),
    "metrics": frozenset({"metrics"}),
    "logs": frozenset({"logs"}),
    "traces": frozenset({"traces"}),
}


def correlation_schedule(incident_id: int, *, trigger: str = RunTrigger.CREATED) -> None:
    """Correlate the incident once the current transaction commits (at once outside one).

    For detection and incidents to call right after opening an incident: a worker must not
    look for an incident that is not committed yet.
    """
    from correlation.tasks import correlate  # the tasks module imports this one

    transaction.on_commit(partial(correlate.delay, incident_id, trigger))


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    collectors: list[Collector]
    context: CollectContext | None
    graph: dict[str, list[str]]
    services: dict[str, Service]


def incident_correlate(
    *, incident_id: int, trigger: str = RunTrigger.MANUAL, now: datetime | None = None
) -> CorrelationRun | None:
    """Gather, score and store the evidence for one incident.

    Requires nothing locked; safe to call concurrently (one run per incident at a time: a
    second caller gets the running run back untouched). Returns None when the incident is gone.
    A collector that fails, times out or answers garbage is recorded on the run as failed; its
    earlier findings are kept as they were, and nothing is invented in their place.
    """
    config = correlation_config()
    now = now or timezone.now()
    incident = Incident.objects.select_related("service").filter(pk=incident_id).first()
    if incident is None:
        return None
    run, claimed = _run_claim(incident=incident, trigger=trigger, now=now, config=config)
    if not claimed:
        return run
    try:
        plan = _plan(incident, now, config)
        if plan.context is None:
            outcomes = [Outcome(c.name, c.kinds, "skipped", error=_skip_reason(c)) for c in plan.collectors]
        else:
            outcomes = run_collectors(
                plan.collectors,
                plan.context,
                timeouts=config.collector_timeouts,
                default_timeout=config.collector_timeout_seconds,
            )
        run = _record(run=run, incident=incident, plan=plan, outcomes=outcomes, config=config, now=now)
    except BaseException as exc:
        # The claim must not outlive a crash: the next trigger would wait for the stale timeout.
        _run_abort(run, exc)
        raise
    if run.changed and incident.status == Status.INVESTIGATING:
        # New evidence during an investigation is what guided steps are proposed from.
        from investigation.tasks import steps_propose

        transaction.on_commit(partial(steps_propose.delay, incident.pk))
    return run


def _run_claim(
    *, incident: Incident, trigger: str, now: datetime, config: CorrelationConfig
) -> tuple[CorrelationRun, bool]:
    for _ in range(3):
        try:
            with transaction.atomic():
                return CorrelationRun.objects.create(incident=incident, trigger=trigger, started_at=now), True
        except IntegrityError:
            running = CorrelationRun.objects.filter(incident=incident, finished_at__isnull=True).first()
            if running is None:
                continue  # it finished between our insert and our read: try again
            if running.started_at > now - config.stale_run:
                return running, False
            # Its worker died mid-run; compare-and-swap so only one successor closes it.
            CorrelationRun.objects.filter(pk=running.pk, finished_at__isnull=True).update(
                status=RunStatus.FAILED, finished_at=now, error="abandoned: its worker stopped before finishing"
            )
    raise Conflict(f"Incident #{incident.pk} is being correlated by another worker; try again shortly.")


def _run_abort(run: CorrelationRun, exc: BaseException) -> None:
    try:
        CorrelationRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {str(exc)[:500]}"
        )
    except Exception:  # noqa: BLE001 - the original error is the one worth raising
        logger.exception("could not close correlation run %s", run.pk)


def _plan(incident: Incident, now: datetime, config: CorrelationConfig) -> _Plan:
    graph = _dependency_graph()
    services = {s.slug: s for s in Service.objects.all().only("id", "slug", "name", "telemetry_labels")}
    sources = _first_sources()
    collectors = _collectors(sources)
    if incident.service is None:
        reason = "the incident names no service, so there is nothing to look at"
        return _Plan([Unavailable(c.name, c.kinds, reason) for c in collectors], None, graph, services)
    service = incident.service
    nearest = sorted(dependencies(graph, service.slug).items(), key=lambda item: (item[1], item[0]))
    context = CollectContext(
        incident_id=incident.pk,
        service=_ref(service),
        dependencies=tuple(_ref(services[slug]) for slug, _ in nearest if slug in services),
        window=config.window(detected_at=incident.detected_at, resolved_at=incident.resolved_at, now=now),
        options=config.options,
    )
    return _Plan(collectors, context, graph, services)


def _dependency_graph() -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {slug: [] for slug in Service.objects.values_list("slug", flat=True)}
    edges = Service.depends_on.through.objects.values_list("from_service__slug", "to_service__slug")
    for caller, callee in edges:
        graph.setdefault(caller, []).append(callee)
    return graph


def _first_sources() -> dict[str, DataSource]:
    found: dict[str, DataSource] = {}
    for source in DataSource.objects.filter(enabled=True).order_by("id"):
        found.setdefault(source.kind, source)
    return found


def _collectors(sources: Mapping[str, DataSource]) -> list[Collector]:
    prometheus = sources.get(SourceKind.PROMETHEUS)
    loki = sources.get(SourceKind.LOKI)
    kubernetes = sources.get(SourceKind.KUBERNETES)

    def factory(source: DataSource) -> Any:
        # Built inside the collector's thread, so a broken kubeconfig is that collector's failure.
        return partial(client_for, source)

    return [
        KubernetesCollector(factory(kubernetes), kubernetes.name)
        if kubernetes
        else Unavailable("kubernetes", KINDS["kubernetes"], "no Kubernetes source is configured"),
        MetricsCollector(factory(prometheus), prometheus.name)
        if prometheus
        else Unavailable("metrics", KINDS["metrics"], "no Prometheus source is configured"),
        LogsCollector(factory(loki), loki.name)
        if loki
        else Unavailable("logs", KINDS["logs"], "no Loki source is configured"),
        TracesCollector(factory(prometheus), prometheus.name)
        if prometheus
        else Unavailable("traces", KINDS["traces"], "no traces source: no Prometheus with span metrics is configured"),
    ]


def _ref(service: Service) -> ServiceRef:
    return ServiceRef(slug=service.slug, name=service.name, labels=dict(service.telemetry_labels or {}))


def _skip_reason(collector: Collector) -> str:
    return collector.reason if isinstance(collector, Unavailable) else "skipped"


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


def _record(
    *,
    run: CorrelationRun,
    incident: Incident,
    plan: _Plan,
    outcomes: list[Outcome],
    config: CorrelationConfig,
    now: datetime,
) -> CorrelationRun:
    symptom_service = incident.service.slug if incident.service else None
    # A collector that answered (or whose source is gone) speaks for its kinds; one that failed
    # leaves its earlier findings standing, rescored with today's others.
    authoritative = frozenset().union(*(o.kinds for o in outcomes if o.status != "failed"))
    with transaction.atomic():
        rows = {
            (row.kind, row.key): row
            for row in Correlation.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(incident=incident)
        }
        fresh = [f for o in outcomes if o.status == "ok" for f in o.result.findings]
        carried = [_finding_of(row) for row in rows.values() if row.active and row.kind not in authoritative]
        findings = fresh + carried
        fallback = (incident.impact_started_at or incident.detected_at).timestamp()
        symptom_start = (
            fallback
            if incident.impact_started_at
            else scoring.symptom_onset(findings, symptom_service, fallback=fallback)
        )
        scored = scoring.score_findings(
            findings, plan.graph, symptom_service=symptom_service, symptom_start=symptom_start
        )

        changed: list[tuple[Correlation, float | None]] = []
        seen: set[tuple[str, str]] = set()
        for item in scored:
            row, previous = _upsert(incident, rows, item, plan.services, now)
            seen.add((row.kind, row.key))
            if previous is None or _moved(previous, row, config.change_threshold):
                changed.append((row, previous.confidence if previous else None))
        for key, row in rows.items():
            if row.active and key not in seen and row.kind in authoritative:
                row.active, row.rank, row.is_root_cause_candidate, row.updated_at = False, None, False, now
                row.save(update_fields=["active", "rank", "is_root_cause_candidate", "updated_at"])

        for row, previous_confidence in sorted(changed, key=lambda item: item[0].rank or 0):
            _announce(incident, row, previous_confidence)

        impact = _impact(incident, plan, outcomes, run, now)
        _incident_impact_set(incident=incident, impact=impact)

        failed = [o for o in outcomes if o.status == "failed"]
        answered = [o for o in outcomes if o.status == "ok"]
        run.status = (
            RunStatus.OK if not failed else RunStatus.PARTIAL if answered else RunStatus.FAILED
        )
        run.finished_at = timezone.now()
        run.collectors = {o.name: o.as_record() for o in outcomes}
        run.findings = len(scored)
        run.changed = len(changed)
        run.symptom_start = datetime.fromtimestamp(symptom_start, tz=UTC)
        if plan.context is not None:
            window = plan.context.window
            run.window_start = datetime.fromtimestamp(window.start, tz=UTC)
            run.window_end = datetime.fromtimestamp(window.end, tz=UTC)
            run.baseline_start = datetime.fromtimestamp(window.baseline_start, tz=UTC)
        run.save()
    return run


@dataclass(frozen=True)
class _Snapshot:
    """A row as it was before this run: what decides whether it is news again."""

    confidence: float
    active: bool
    is_root_cause_candidate: bool


def _upsert(
    incident: Incident,
    rows: dict[tuple[str, str], Correlation],
    item: scoring.ScoredFinding,
    services: Mapping[str, Service],
    now: datetime,
) -> tuple[Correlation, _Snapshot | None]:
    """Create or update the row of this finding; returns it and how it was (None: it is new)."""
    finding = item.finding
    service = services.get(finding.service)
    values = {
        "source": finding.source[:100],
        "service": service,
        "signal": finding.signal[:60],
        "title": _clip(finding.title or finding.key, 300),
        "detail": finding.detail,
        "evidence": json_safe(finding.evidence),
        "onset_at": datetime.fromtimestamp(finding.onset, tz=UTC) if finding.onset is not None else None,
        "onset_is_upper_bound": finding.onset_is_upper_bound,
        "magnitude": finding.magnitude,
        "specificity": finding.specificity,
        "confidence": item.confidence,
        "factors": json_safe(item.factors_dict()),
        "rank": item.rank,
        "is_root_cause_candidate": item.is_root_cause_candidate,
        "active": True,
        "updated_at": now,
    }
    row = rows.get((finding.kind, finding.key))
    if row is None:
        row = Correlation.objects.create(
            incident=incident, kind=finding.kind, key=finding.key, created_at=now, **values
        )
        rows[(row.kind, row.key)] = row
        return row, None
    previous = _Snapshot(row.confidence, row.active, row.is_root_cause_candidate)
    for name, value in values.items():
        setattr(row, name, value)
    row.save(update_fields=list(values))
    return row, previous


def _moved(previous: _Snapshot, row: Correlation, threshold: float) -> bool:
    """Worth telling people again: back after being retired, newly a candidate, or a real move."""
    return (
        not previous.active
        or (row.is_root_cause_candidate and not previous.is_root_cause_candidate)
        or abs(row.confidence - previous.confidence) > threshold
    )


def _announce(incident: Incident, row: Correlation, previous_confidence: float | None) -> None:
    if row.is_root_cause_candidate:
        message = f"Probable cause #{row.rank}: {row.title} (confidence {row.confidence:.2f})"
    else:
        message = f"Evidence #{row.rank}: {row.title} (confidence {row.confidence:.2f})"
    if previous_confidence is not None:
        message += f", was {previous_confidence:.2f}"
    factors = {name: factor.get("value") for name, factor in row.factors.items()}
    event = timeline_event_add(
        incident=incident,
        kind=TimelineKind.CORRELATION_FOUND,
        message=message,
        data={
            "correlation": row.pk,
            "kind": row.kind,
            "key": row.key,
            "confidence": row.confidence,
            "previous_confidence": previous_confidence,
            "rank": row.rank,
            "is_root_cause_candidate": row.is_root_cause_candidate,
            "factors": factors,
        },
        actor_name=ACTOR,
    )
    publish(
        "correlation_found",
        {
            "id": row.pk,
            "incident": incident.pk,
            "incident_title": incident.title,
            "service": service_payload(incident.service),
            "kind": row.kind,
            "title": row.title,
            "summary": message,
            "confidence": row.confidence,
            "rank": row.rank,
            "is_root_cause_candidate": row.is_root_cause_candidate,
            "factors": factors,
            "event": timeline_event_payload(event),
        },
        teams=incident_teams(incident),
    )


def _impact(
    incident: Incident, plan: _Plan, outcomes: Iterable[Outcome], run: CorrelationRun, now: datetime
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for outcome in outcomes:
        if outcome.status == "ok":
            facts.update(outcome.result.facts)
    slug = incident.service.slug if incident.service else None
    impact = assess_impact(
        service=slug,
        graph=plan.graph,
        failing_share=facts.get("error_ratio_last"),
        failing_share_peak=facts.get("error_ratio_peak"),
        pods_affected=facts.get("pods_affected", ()),
        pods_total=facts.get("pods_total"),
    )
    result = impact.as_dict()
    for entry in result["blast_radius"]:
        service = plan.services.get(entry["service"])
        entry.update({"id": service.pk if service else None, "name": service.name if service else entry["service"]})
    result.update({"computed_at": now.isoformat(), "run": run.pk})
    return json_safe(result)


def _incident_impact_set(*, incident: Incident, impact: dict[str, Any]) -> None:
    # Stand-in for incidents.services.incident_impact_set (requested): a plain update of the one
    # field correlation owns on the incident, never its status.
    Incident.objects.filter(pk=incident.pk).update(impact=impact)
    incident.impact = impact


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _finding_of(row: Correlation) -> scoring.Finding:
    return scoring.Finding(
        service=row.service.slug if row.service else "",
        kind=row.kind,
        signal=row.signal,
        key=row.key,
        onset=row.onset_at.timestamp() if row.onset_at else None,
        magnitude=row.magnitude,
        specificity=row.specificity,
        source=row.source,
        title=row.title,
        detail=row.detail,
        evidence=row.evidence,
        magnitude_why=(row.factors.get("magnitude") or {}).get("why", ""),
        onset_is_upper_bound=row.onset_is_upper_bound,
    )


def json_safe(value: Any) -> Any:
    """What PostgreSQL's jsonb takes: no NaN or ±Inf (they become null), datetimes as ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
