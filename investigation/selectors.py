"""Reads of the investigation: lists for the API and the incident page, and the plain facts that
the pure modules (proposals, recommendations, rca, playbooks) work on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from correlation.collectors.base import ServiceRef
from correlation.models import Correlation
from detection.models import Alert, DataSource
from incidents.models import Incident, Service, Status, TimelineEvent
from incidents.selectors import incident_list_for_user
from investigation import playbooks, proposals, rca, recommendations
from investigation.facts import CorrelationFact
from investigation.models import (
    Hypothesis,
    HypothesisEvidence,
    HypothesisStatus,
    InvestigationStep,
    InvestigationTemplate,
    RCAReport,
)

DEPENDENCY_DEPTH = 3
MAX_DEPENDENCIES = 20
MAX_DEPENDENCY_INCIDENTS = 5
MAX_CORRELATIONS = 20
MAX_TIMELINE_EVENTS = 500


# --------------------------------------------------------------------------------------------
# For the API and the incident page
# --------------------------------------------------------------------------------------------


def incident_for_user(*, user: Any, incident_id: int) -> Incident:
    """The incident if the user may see it; 404 otherwise (another team's incident does not exist)."""
    incident = incident_list_for_user(user=user).select_related("service").filter(pk=incident_id).first()
    if incident is None:
        raise Http404("No such incident.")
    return incident


def hypothesis_list(incident: Incident) -> QuerySet[Hypothesis]:
    """The incident's hypotheses, oldest first, with their evidence links."""
    links = HypothesisEvidence.objects.select_related("correlation", "step").order_by("created_at", "id")
    return (
        Hypothesis.objects.filter(incident=incident)
        .select_related("created_by")
        .prefetch_related(Prefetch("evidence", queryset=links), "steps")
    )


def hypothesis_get(*, incident: Incident, hypothesis_id: int) -> Hypothesis:
    hypothesis = hypothesis_list(incident).filter(pk=hypothesis_id).first()
    if hypothesis is None:
        raise Http404("No such hypothesis on this incident.")
    return hypothesis


def step_list(incident: Incident) -> QuerySet[InvestigationStep]:
    """The incident's steps in the order they were added."""
    return InvestigationStep.objects.filter(incident=incident).select_related("hypothesis", "created_by", "executed_by")


def step_get(*, incident: Incident, step_id: int) -> InvestigationStep:
    step = step_list(incident).filter(pk=step_id).first()
    if step is None:
        raise Http404("No such step on this incident.")
    return step


def rca_latest(incident: Incident) -> RCAReport | None:
    return RCAReport.objects.filter(incident=incident).order_by("-version").first()


def rca_get(*, incident: Incident, version: int) -> RCAReport:
    report = RCAReport.objects.filter(incident=incident, version=version).first()
    if report is None:
        raise Http404(f"No RCA version {version} for this incident.")
    return report


def rca_versions(incident: Incident) -> QuerySet[RCAReport]:
    return RCAReport.objects.filter(incident=incident).select_related("created_by").order_by("-version")


def recommended_actions(incident: Incident) -> list[dict[str, Any]]:
    """What to do next and why, best first: ``[{id, title, reason, priority, category, evidence, link}]``."""
    return [r.as_dict() for r in recommendations.recommend(recommendation_context(incident=incident))]


# --------------------------------------------------------------------------------------------
# Services and sources
# --------------------------------------------------------------------------------------------


def service_ref(service: Service) -> ServiceRef:
    return ServiceRef(slug=service.slug, name=service.name, labels=dict(service.telemetry_labels or {}))


def dependency_chain(service: Service | None) -> list[Service]:
    """What ``service`` calls, transitively (to a few hops), nearest first."""
    if service is None:
        return []
    through = Service.depends_on.through.objects
    seen = {service.pk}
    ordered: list[int] = []
    frontier = [service.pk]
    for _ in range(DEPENDENCY_DEPTH):
        found = [
            pk
            for pk in through.filter(from_service_id__in=frontier)
            .order_by("to_service__name")
            .values_list("to_service_id", flat=True)
            if pk not in seen
        ]
        found = list(dict.fromkeys(found))
        seen.update(found)
        ordered.extend(found)
        frontier = found
        if not frontier or len(ordered) >= MAX_DEPENDENCIES:
            break
    by_id = Service.objects.in_bulk(ordered[:MAX_DEPENDENCIES])
    return [by_id[pk] for pk in ordered[:MAX_DEPENDENCIES] if pk in by_id]


def data_source_for(*, kind: str, reference: int | str | None = None) -> DataSource | None:
    """``parameters.source`` (an id or a name) if given, else the first enabled source of ``kind``."""
    if reference not in (None, ""):
        lookup = {"pk": reference} if isinstance(reference, int) else {"name": reference}
        return DataSource.objects.filter(kind=kind, **lookup).first()
    return DataSource.objects.filter(kind=kind, enabled=True).order_by("name", "id").first()


# --------------------------------------------------------------------------------------------
# Facts for the pure modules
# --------------------------------------------------------------------------------------------


def _correlation_facts(incident: Incident) -> tuple[CorrelationFact, ...]:
    return tuple(
        CorrelationFact(
            id=c.pk,
            kind=c.kind,
            signal=c.signal,
            title=c.title,
            service=c.service.slug if c.service else None,
            confidence=c.confidence,
            evidence=c.evidence or {},
            detail=c.detail,
            key=c.key,
        )
        for c in _active_correlations(incident)
    )


def _active_correlations(incident: Incident) -> list[Correlation]:
    return list(Correlation.objects.filter(incident=incident, active=True).select_related("service")[:MAX_CORRELATIONS])


def proposal_context(*, incident: Incident, hypothesis: Hypothesis | None = None) -> proposals.ProposalContext:
    hypothesis_fact = None
    if hypothesis is not None:
        linked = HypothesisEvidence.objects.filter(
            hypothesis=hypothesis, relation="supports", correlation__isnull=False
        ).values_list("correlation_id", flat=True)
        hypothesis_fact = proposals.HypothesisFact(
            id=hypothesis.pk,
            title=hypothesis.title,
            description=hypothesis.description,
            correlation_ids=tuple(linked),
        )
    return proposals.ProposalContext(
        severity=incident.severity,
        service=incident.service.slug if incident.service else None,
        dependencies=tuple(s.slug for s in dependency_chain(incident.service)),
        evidence=_correlation_facts(incident),
        hypothesis=hypothesis_fact,
    )


def playbooks_matching(*, incident: Incident) -> list[InvestigationTemplate]:
    facts = playbooks.IncidentFacts(
        severity=incident.severity,
        service_id=incident.service_id,
        rule_ids=frozenset(
            Alert.objects.filter(incident=incident, rule__isnull=False).values_list("rule_id", flat=True)
        ),
        labels=incident.labels or {},
    )
    templates = InvestigationTemplate.objects.filter(enabled=True).prefetch_related(
        "match_rules", "match_services", "steps"
    )
    return [
        template
        for template in templates
        if playbooks.matches(
            playbooks.PlaybookFacts(
                id=template.pk,
                enabled=template.enabled,
                rule_ids=frozenset(r.pk for r in template.match_rules.all()),
                service_ids=frozenset(s.pk for s in template.match_services.all()),
                labels=template.match_labels if isinstance(template.match_labels, dict) else {},
                severities=frozenset(template.match_severities or []),
            ),
            facts,
        )
    ]


def recommendation_context(*, incident: Incident) -> recommendations.RecommendationContext:
    chain = dependency_chain(incident.service)
    others = (
        Incident.objects.filter(service__in=chain)
        .exclude(status=Status.RESOLVED)
        .exclude(pk=incident.pk)
        .select_related("service")
        .order_by("-detected_at")[:MAX_DEPENDENCY_INCIDENTS]
    )
    confirmed = Hypothesis.objects.filter(incident=incident, status=HypothesisStatus.CONFIRMED).order_by(
        "-confidence", "id"
    )
    return recommendations.RecommendationContext(
        incident_id=incident.pk,
        severity=incident.severity,
        status=incident.status,
        service=incident.service.slug if incident.service else None,
        has_commander=incident.commander_id is not None,
        runbook_url=incident.service.runbook_url if incident.service else "",
        impact=incident.impact or {},
        correlations=_correlation_facts(incident),
        dependency_incidents=tuple(
            recommendations.DependencyIncident(
                id=o.pk,
                title=o.title,
                service=o.service.slug if o.service else "",
                severity=o.severity,
                status=o.status,
                url=o.get_absolute_url(),
            )
            for o in others
        ),
        confirmed_hypotheses=tuple((h.pk, h.title) for h in confirmed),
    )


def rca_context(*, incident: Incident, now: datetime | None = None) -> rca.RCAContext:
    now = now or timezone.now()
    service = incident.service
    alerts = Alert.objects.filter(incident=incident).select_related("rule", "source").order_by("fired_at", "id")
    hypotheses = hypothesis_list(incident)
    steps = step_list(incident)
    timeline = TimelineEvent.objects.filter(incident=incident).order_by("at", "id")[:MAX_TIMELINE_EVENTS]
    page = incident.get_absolute_url()
    return rca.RCAContext(
        incident=rca.IncidentInfo(
            id=incident.pk,
            title=incident.title,
            severity=incident.severity,
            status=incident.status,
            detected_at=incident.detected_at,
            description=incident.description,
            service=service.slug if service else None,
            service_name=service.name if service else None,
            team=service.team.name if service else None,
            source=incident.source,
            acknowledged_at=incident.acknowledged_at,
            mitigated_at=incident.mitigated_at,
            resolved_at=incident.resolved_at,
            impact_started_at=incident.impact_started_at,
            commander=incident.commander.get_username() if incident.commander else None,
            resolution_note=incident.resolution_note,
            url=page,
        ),
        now=now,
        impact=incident.impact or {},
        alerts=tuple(
            rca.AlertInfo(
                rule=a.rule.name if a.rule else None,
                query=a.rule.query if a.rule else "",
                comparator=a.rule.comparator if a.rule else "",
                threshold=a.rule.threshold_value if a.rule else None,
                value=a.value,
                severity=a.severity,
                source=a.source.name,
                active_since=a.active_since,
                fired_at=a.fired_at,
                detection_latency_seconds=a.detection_latency_seconds,
            )
            for a in alerts
        ),
        correlations=tuple(
            rca.CorrelationInfo(
                id=c.pk,
                kind=c.kind,
                title=c.title,
                confidence=c.confidence,
                signal=c.signal,
                detail=c.detail,
                rank=c.rank,
                is_root_cause_candidate=c.is_root_cause_candidate,
                service=c.service.slug if c.service else None,
                source=c.source,
                link=f"{page}#evidence",
            )
            for c in _active_correlations(incident)
        ),
        hypotheses=tuple(_hypothesis_info(h) for h in hypotheses),
        steps=tuple(_step_info(s) for s in steps),
        timeline=tuple(
            rca.TimelineEntry(at=e.at, kind=e.kind, message=e.message, actor=e.actor_name) for e in timeline
        ),
        recommendations=tuple(recommended_actions(incident)),
    )


def step_url(step: InvestigationStep) -> str:
    return reverse("investigation-step-detail", kwargs={"pk": step.incident_id, "step_id": step.pk})


def _hypothesis_info(hypothesis: Hypothesis) -> rca.HypothesisInfo:
    return rca.HypothesisInfo(
        id=hypothesis.pk,
        title=hypothesis.title,
        status=hypothesis.status,
        confidence=hypothesis.confidence,
        description=hypothesis.description,
        conclusion=hypothesis.conclusion,
        concluded_at=hypothesis.concluded_at,
        evidence=tuple(_links(hypothesis.evidence.all())),
    )


def _links(links: Iterable[HypothesisEvidence]) -> Iterable[rca.EvidenceLink]:
    for link in links:
        target = link.correlation if link.correlation_id else link.step
        yield rca.EvidenceLink(
            relation=link.relation,
            title=target.title if target else "",
            correlation_id=link.correlation_id,
            step_id=link.step_id,
        )


def _step_info(step: InvestigationStep) -> rca.StepInfo:
    findings = step.findings or {}
    data = findings.get("data") if isinstance(findings.get("data"), dict) else {}
    links = data.get("links") if isinstance(data.get("links"), list) else []
    return rca.StepInfo(
        id=step.pk,
        title=step.title,
        action=step.action,
        status=step.status,
        summary=str(findings.get("summary") or ""),
        error=str(findings.get("error") or ""),
        verdict=data.get("verdict"),
        hypothesis_id=step.hypothesis_id,
        completed_at=step.completed_at,
        link=step_url(step),
        links=tuple(str(link) for link in links[:3]),
    )
