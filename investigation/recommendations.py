"""Recommended actions for an incident, each with the reason it is recommended. Pure.

Rules read the severity and status, the ranked correlations (their kind, signal and evidence),
the alerts, and open incidents of the services this one calls. Each rule is a function of the
context that yields recommendations; ``recommend`` runs them all, drops duplicates (same id)
and orders by priority, keeping each rule's order within a priority.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from investigation.facts import CorrelationFact

PRIORITIES = ("critical", "high", "medium", "low")
ACTIVE = ("open", "investigating")
FAILING_SHARE_TO_SHED = 0.25
MIN_CONFIDENCE = 0.3


@dataclass(frozen=True)
class DependencyIncident:
    id: int
    title: str
    service: str
    severity: str
    status: str
    url: str = ""


@dataclass(frozen=True)
class RecommendationContext:
    incident_id: int
    severity: str
    status: str
    service: str | None = None
    has_commander: bool = False
    runbook_url: str = ""
    impact: Mapping[str, Any] = field(default_factory=dict)
    # Ranked, best first.
    correlations: tuple[CorrelationFact, ...] = ()
    dependency_incidents: tuple[DependencyIncident, ...] = ()
    confirmed_hypotheses: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Recommendation:
    id: str
    title: str
    reason: str
    priority: str
    category: str  # "process", "mitigation" or "diagnosis"
    evidence: tuple[Mapping[str, Any], ...] = ()
    link: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "reason": self.reason,
            "priority": self.priority,
            "category": self.category,
            "evidence": [dict(e) for e in self.evidence],
            "link": self.link or None,
        }


Rule = Callable[[RecommendationContext], Iterable[Recommendation]]


def recommend(context: RecommendationContext) -> list[Recommendation]:
    seen: dict[str, Recommendation] = {}
    for rule in RULES:
        for item in rule(context):
            seen.setdefault(item.id, item)
    return sorted(seen.values(), key=lambda r: PRIORITIES.index(r.priority))


def _ref(fact: CorrelationFact) -> dict[str, Any]:
    return {"type": "correlation", "id": fact.id, "title": fact.title}


def _strong(context: RecommendationContext, *signals: str) -> list[CorrelationFact]:
    return [c for c in context.correlations if c.signal in signals and c.confidence >= MIN_CONFIDENCE]


# --- By severity and status -----------------------------------------------------------------------


def commander(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.severity in ("critical", "high") and not context.has_commander and context.status in ACTIVE:
        yield Recommendation(
            id="process:commander",
            title="Name an incident commander",
            reason=f"A {context.severity} incident needs one person coordinating the response; nobody is named yet.",
            priority="critical" if context.severity == "critical" else "high",
            category="process",
        )


def stakeholders(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.status not in (*ACTIVE, "mitigated"):
        return
    if context.severity == "critical":
        yield Recommendation(
            id="process:stakeholders",
            title="Update stakeholders every 30 minutes",
            reason="Critical impact: support, customers and leadership need to hear what is known and what is next.",
            priority="high",
            category="process",
        )
    elif context.severity == "high":
        yield Recommendation(
            id="process:stakeholders",
            title="Update stakeholders every hour",
            reason="High impact: the people affected should not have to ask for news.",
            priority="medium",
            category="process",
        )


def acknowledge(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.status == "open":
        yield Recommendation(
            id="process:acknowledge",
            title="Acknowledge the incident and start investigating",
            reason="Nobody has picked it up yet; acknowledging tells the team someone is on it.",
            priority="high" if context.severity in ("critical", "high") else "medium",
            category="process",
        )


def generic_rollback(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.severity != "critical" or context.status not in ACTIVE or _rollouts(context):
        return
    yield Recommendation(
        id="mitigation:consider-rollback",
        title="Consider rolling back the most recent change",
        reason="Critical impact: restoring service comes before diagnosis, and a rollback is the quickest "
        "mitigation when a change preceded the incident.",
        priority="high",
        category="mitigation",
    )


# --- By evidence ------------------------------------------------------------------------------


def _rollouts(context: RecommendationContext) -> list[CorrelationFact]:
    return [
        c
        for c in context.correlations
        if (c.signal == "rollout" or c.kind == "change") and c.confidence >= MIN_CONFIDENCE
    ]


def rollback(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.status == "resolved":
        return
    for fact in _rollouts(context):
        deployment = fact.evidence.get("deployment") or fact.service or "the deployment"
        revision = fact.evidence.get("revision")
        previous = (fact.evidence.get("previous") or {}).get("revision")
        target = f" to revision {previous}" if previous else ""
        unhealthy = fact.evidence.get("unhealthy_pods") or []
        reason = f"{fact.title}, inside the incident window"
        if fact.evidence.get("created_at"):
            reason += f" (at {fact.evidence['created_at']})"
        if unhealthy:
            reason += f"; {len(unhealthy)} of its pods are unhealthy"
        yield Recommendation(
            id=f"mitigation:rollback:{deployment}:{revision}",
            title=f"Roll back {deployment}{target}",
            reason=reason + ".",
            priority="critical" if context.severity in ("critical", "high") else "high",
            category="mitigation",
            evidence=(_ref(fact),),
        )


def pods(context: RecommendationContext) -> Iterable[Recommendation]:
    advice = {
        "oom_killed": (
            "Raise the memory limit of {service}, or find what grew",
            "Containers were killed for running out of memory: {title}.",
            "high",
        ),
        "crash_loop": (
            "Read the crashing containers' previous logs (kubectl logs --previous)",
            "Pods of {service} are in CrashLoopBackOff: {title}. Their last lines before the crash say why.",
            "high",
        ),
        "image_pull": (
            "Fix the image reference of {service}",
            "Pods cannot pull their image: {title}.",
            "high",
        ),
        "config_error": (
            "Fix the configuration of {service}: a ConfigMap or Secret it needs is missing or wrong",
            "Containers cannot start: {title}.",
            "high",
        ),
        "unschedulable": (
            "Add cluster capacity or lower the resource requests of {service}",
            "The scheduler cannot place pods: {title}.",
            "medium",
        ),
        "node_pressure": (
            "Move workloads off the troubled node, or add capacity",
            "The node under {service} reports pressure: {title}.",
            "medium",
        ),
    }
    for signal, (title, reason, priority) in advice.items():
        for fact in _strong(context, signal):
            service = fact.service or context.service or "the service"
            yield Recommendation(
                id=f"mitigation:{signal}:{service}",
                title=title.format(service=service),
                reason=reason.format(service=service, title=fact.title),
                priority=priority,
                category="mitigation" if signal != "crash_loop" else "diagnosis",
                evidence=(_ref(fact),),
            )


def dependency_incidents(context: RecommendationContext) -> Iterable[Recommendation]:
    for other in context.dependency_incidents:
        yield Recommendation(
            id=f"diagnosis:dependency-incident:{other.id}",
            title=f"Follow incident #{other.id} on {other.service}",
            reason=f"{other.service}, which {context.service or 'this service'} depends on, has an open "
            f"{other.severity} incident ({other.status}): {other.title}. This one may be its symptom.",
            priority="high",
            category="diagnosis",
            evidence=({"type": "incident", "id": other.id, "title": other.title},),
            link=other.url,
        )


def failing_dependency(context: RecommendationContext) -> Iterable[Recommendation]:
    signals = ("p95_latency", "error_ratio", "span_p95_latency", "span_error_ratio")
    for fact in _strong(context, *signals):
        if fact.service is None or fact.service == context.service:
            continue
        yield Recommendation(
            id=f"mitigation:protect-from:{fact.service}",
            title=f"Protect {context.service or 'the service'} from {fact.service}: tighten timeouts, "
            "add a circuit breaker or a fallback",
            reason=f"{fact.service}, which it calls, degraded: {fact.title}.",
            priority="medium",
            category="mitigation",
            evidence=(_ref(fact),),
        )


def shed_load(context: RecommendationContext) -> Iterable[Recommendation]:
    share = context.impact.get("failing_share_peak") or context.impact.get("failing_share")
    if context.status in ACTIVE and isinstance(share, (int, float)) and share >= FAILING_SHARE_TO_SHED:
        yield Recommendation(
            id="mitigation:shed-load",
            title="Shed load or fail over while the cause is found",
            reason=f"{share:.0%} of requests are failing: protecting the healthy share matters more than diagnosis.",
            priority="high",
            category="mitigation",
        )


def new_errors(context: RecommendationContext) -> Iterable[Recommendation]:
    for fact in _strong(context, "new_log_template"):
        template = str(fact.evidence.get("template") or fact.title)
        yield Recommendation(
            id=f"diagnosis:new-error:{fact.key or fact.id}",
            title=f"Find the code that prints the new error: {template[:120]}",
            reason=f"This log template did not occur before the incident: {fact.detail or fact.title}",
            priority="medium",
            category="diagnosis",
            evidence=(_ref(fact),),
        )


def confirmed_cause(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.status not in ACTIVE:
        return
    for hypothesis_id, title in context.confirmed_hypotheses:
        yield Recommendation(
            id=f"mitigation:confirmed:{hypothesis_id}",
            title=f"Mitigate the confirmed cause: {title}",
            reason="This hypothesis is confirmed; once it is addressed, move the incident to mitigated.",
            priority="high",
            category="mitigation",
            evidence=({"type": "hypothesis", "id": hypothesis_id, "title": title},),
        )


def runbook(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.runbook_url and context.status in (*ACTIVE, "mitigated"):
        yield Recommendation(
            id="process:runbook",
            title=f"Follow the runbook of {context.service}",
            reason="The owning team wrote down what to check and do for this service.",
            priority="medium",
            category="process",
            link=context.runbook_url,
        )


def closing(context: RecommendationContext) -> Iterable[Recommendation]:
    if context.status == "mitigated":
        yield Recommendation(
            id="process:verify-and-resolve",
            title="Watch the golden signals recover, then resolve",
            reason="The incident is mitigated; resolving it records the time to repair.",
            priority="medium",
            category="process",
        )
    elif context.status == "resolved":
        yield Recommendation(
            id="process:postmortem",
            title="Write the postmortem: generate the RCA and assign its action items",
            reason="The incident is resolved; what was learned is freshest now.",
            priority="medium",
            category="process",
        )


RULES: tuple[Rule, ...] = (
    commander,
    acknowledge,
    rollback,
    confirmed_cause,
    dependency_incidents,
    shed_load,
    pods,
    generic_rollback,
    stakeholders,
    failing_dependency,
    new_errors,
    runbook,
    closing,
)
