"""Guided steps: what to look at next, from the severity, the evidence and a hypothesis. Pure.

``propose(context)`` returns proposals with a stable ``key`` each; the service creates the ones
whose key the incident has not seen, so proposing twice (the incident reached investigating,
then a hypothesis arrived, then correlation found more) never duplicates a step. Evidence comes
first, most telling first: the first proposal with a key wins, so a step named after the evidence
("Inspect the pods and the last rollout") is kept over the generic one with the same key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from investigation.facts import CorrelationFact
from investigation.models import StepAction

MAX_EVIDENCE = 6
MIN_CONFIDENCE = 0.3
KEY_MAX_LENGTH = 255

POD_SIGNALS = frozenset(
    {"crash_loop", "oom_killed", "restarts", "image_pull", "config_error", "not_ready", "pending", "unschedulable"}
)
LATENCY_SIGNALS = frozenset({"p95_latency", "span_p95_latency"})
ERROR_SIGNALS = frozenset({"error_ratio", "span_error_ratio"})
LOG_SIGNALS = frozenset({"new_log_template", "log_template_spike"})
RESOURCE_SIGNALS = frozenset({"cpu", "memory"})

_DATABASE = re.compile(r"\b(database|db|sql|postgres\w*|mysql|connection pool|connections?|pool|query|queries)\b")
_MEMORY = re.compile(r"\b(memory|oom\w*|leak\w*|heap)\b")
_CHANGE = re.compile(r"\b(deploy\w*|rollout|roll-out|release\w*|version|config\w*|change\w*|image)\b")
_LATENCY = re.compile(r"\b(latency|slow\w*|timeouts?|timed out|saturat\w*|queue\w*)\b")
_ERRORS = re.compile(r"\b(errors?|exceptions?|5xx|500s?|crash\w*|panic\w*|fail\w*)\b")


@dataclass(frozen=True)
class HypothesisFact:
    id: int
    title: str
    description: str = ""
    # Correlations linked to it as support: the evidence rules run on those for it.
    correlation_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProposalContext:
    severity: str
    service: str | None
    dependencies: tuple[str, ...] = ()
    evidence: tuple[CorrelationFact, ...] = ()
    hypothesis: HypothesisFact | None = None


@dataclass(frozen=True)
class Proposal:
    key: str
    title: str
    action: str
    parameters: dict[str, Any]
    reason: str


def propose(context: ProposalContext) -> list[Proposal]:
    """The steps worth taking, de-duplicated by key, evidence first."""
    if context.hypothesis is not None:
        found = _for_hypothesis(context, context.hypothesis)
    else:
        found = [*_from_evidence(context, _strongest(context.evidence)), *_baseline(context)]
    unique: dict[str, Proposal] = {}
    for proposal in found:
        unique.setdefault(proposal.key, proposal)
    return list(unique.values())


def _strongest(evidence: Iterable[CorrelationFact]) -> list[CorrelationFact]:
    # Ranked already (best first); the weak ones would only add noise to the list of steps.
    return [e for e in evidence if e.confidence >= MIN_CONFIDENCE][:MAX_EVIDENCE]


# --------------------------------------------------------------------------------------------
# Incident-level
# --------------------------------------------------------------------------------------------


def _baseline(context: ProposalContext) -> list[Proposal]:
    service = context.service
    if service is None:
        return []
    found = [
        Proposal(
            key=f"metrics:{service}",
            title=f"Check the golden signals of {service}",
            action=StepAction.CHECK_METRICS,
            parameters={"service": service},
            reason="Error ratio, latency and traffic show how bad it is and since when.",
        ),
        Proposal(
            key=f"logs:{service}:errors",
            title=f"Read the error logs of {service}",
            action=StepAction.INVESTIGATE_LOGS,
            parameters={"service": service},
            reason="Error lines usually name the failing call or the exception.",
        ),
    ]
    if context.severity in ("critical", "high"):
        found.append(
            Proposal(
                key=f"k8s:{service}",
                title=f"Inspect the pods of {service}",
                action=StepAction.CHECK_KUBERNETES,
                parameters={"service": service},
                reason=f"A {context.severity} incident: rule out crashing or unready pods first.",
            )
        )
    if context.severity == "critical" and context.dependencies:
        found.append(_dependencies_metrics(service, context.dependencies, signals=None, why="critical"))
    return found


def _dependencies_metrics(
    service: str, dependencies: tuple[str, ...], *, signals: list[str] | None, why: str, cited: str = ""
) -> Proposal:
    names = ", ".join(dependencies[:4]) + ("…" if len(dependencies) > 4 else "")
    parameters: dict[str, Any] = {"service": service, "scope": "dependencies"}
    if signals:
        parameters["signals"] = signals
    latency = signals == ["p95_latency"]
    reason = {
        "critical": f"A critical incident: check whether what {service} calls ({names}) is failing too.",
        "latency": f"{service} is slow: the latency of what it calls ({names}) says whether it waits on them.",
        "hypothesis": f"The hypothesis points below {service}: compare what it calls ({names}).",
    }[why]
    if cited:
        reason += f" {cited}"
    return Proposal(
        key=f"metrics:{service}:dependencies" + (":latency" if latency else ""),
        title=f"Check the {'latency' if latency else 'golden signals'} of {service}'s dependencies",
        action=StepAction.CHECK_METRICS,
        parameters=parameters,
        reason=reason,
    )


def _from_evidence(context: ProposalContext, evidence: list[CorrelationFact], prefix: str = "") -> list[Proposal]:
    found: list[Proposal] = []
    for fact in evidence:
        service = fact.service or context.service
        if service is None:
            continue
        found.extend(_for_fact(context, fact, service))
    return [_prefixed(p, prefix) for p in found] if prefix else found


def _for_fact(context: ProposalContext, fact: CorrelationFact, service: str) -> list[Proposal]:
    cited = f"Evidence: {fact.title} (confidence {fact.confidence:.0%})."
    signal = fact.signal
    if signal in POD_SIGNALS:
        return [
            Proposal(
                key=f"k8s:{service}",
                title=f"Inspect the pods and the last rollout of {service}",
                action=StepAction.CHECK_KUBERNETES,
                parameters={"service": service, "include": ["pods", "events", "rollouts"]},
                reason=f"Pods in trouble often come from a change: {cited}",
            ),
            Proposal(
                key=f"logs:{service}:errors",
                title=f"Read the error logs of {service}",
                action=StepAction.INVESTIGATE_LOGS,
                parameters={"service": service},
                reason=f"The last lines before a crash usually say why. {cited}",
            ),
        ]
    if signal == "rollout" or fact.kind == "change":
        deployment = str(fact.evidence.get("deployment") or service)
        revision = fact.evidence.get("revision")
        return [
            Proposal(
                key=f"rollout:{deployment}:{revision}",
                title=f"Review the rollout of {deployment}" + (f" to revision {revision}" if revision else ""),
                action=StepAction.CHECK_KUBERNETES,
                parameters={"service": service, "include": ["rollouts", "pods", "events"]},
                reason=f"A change inside the incident window is the first suspect. {cited}",
            )
        ]
    if signal in LATENCY_SIGNALS:
        found = [
            Proposal(
                key=f"traces:{service}",
                title=f"Find the slow spans of {service}",
                action=StepAction.CHECK_TRACES,
                parameters={"service": service},
                reason=f"Spans show which operation is slow. {cited}",
            )
        ]
        dependencies = context.dependencies if service == context.service else ()
        if dependencies:
            found.insert(
                0, _dependencies_metrics(service, dependencies, signals=["p95_latency"], why="latency", cited=cited)
            )
        return found
    if signal in ERROR_SIGNALS:
        return [
            Proposal(
                key=f"logs:{service}:errors",
                title=f"Read the error logs of {service}",
                action=StepAction.INVESTIGATE_LOGS,
                parameters={"service": service},
                reason=f"Failing requests leave error lines. {cited}",
            ),
            Proposal(
                key=f"traces:{service}",
                title=f"Find the failing spans of {service}",
                action=StepAction.CHECK_TRACES,
                parameters={"service": service},
                reason=f"Spans show which operation fails. {cited}",
            ),
        ]
    if signal in LOG_SIGNALS and fact.evidence.get("template"):
        template = str(fact.evidence["template"])
        parameters: dict[str, Any] = {"service": service, "template": template}
        if fact.evidence.get("query"):
            parameters["query"] = str(fact.evidence["query"])
        digest = fact.key.rsplit(":", 1)[-1] if fact.key else str(fact.id)
        new = "new" if signal == "new_log_template" else "spiking"
        return [
            Proposal(
                key=f"logs:{service}:template:{digest}",
                title=f"Read the lines of the {new} log template: {_clip(template, 120)}",
                action=StepAction.INVESTIGATE_LOGS,
                parameters=parameters,
                reason=f"A {new} error template points at what changed. {cited}",
            )
        ]
    if signal == "node_pressure" or signal.startswith("event_") or signal in RESOURCE_SIGNALS:
        return [
            Proposal(
                key=f"k8s:{service}",
                title=f"Inspect the pods of {service}",
                action=StepAction.CHECK_KUBERNETES,
                parameters={"service": service},
                reason=f"The cluster reports trouble around {service}. {cited}",
            )
        ]
    return []


# --------------------------------------------------------------------------------------------
# For a hypothesis
# --------------------------------------------------------------------------------------------


def _for_hypothesis(context: ProposalContext, hypothesis: HypothesisFact) -> list[Proposal]:
    service = context.service
    prefix = f"h{hypothesis.id}"
    linked = [e for e in context.evidence if e.id in set(hypothesis.correlation_ids)]
    found = _from_evidence(context, linked, prefix)
    if context.service is None:
        return found
    text = f"{hypothesis.title} {hypothesis.description}".lower()
    # "Payments is down", said on checkout's incident, is about payments: look there.
    named = [d for d in context.dependencies if re.search(rf"(?<![\w-]){re.escape(d.lower())}(?![\w-])", text)]
    service = named[0] if named else context.service
    dependencies = context.dependencies if service == context.service else ()
    keyword: list[Proposal] = []
    if _DATABASE.search(text):
        keyword.append(
            Proposal(
                key=f"metrics:{service}:both",
                title=f"Check the golden signals of {service} and of what it calls",
                action=StepAction.CHECK_METRICS,
                parameters={"service": service, "scope": "both" if dependencies else "service"},
                reason="The hypothesis names the database: saturation shows as latency and errors on both sides.",
            )
        )
        keyword.append(
            Proposal(
                key=f"logs:{service}:database",
                title=f"Look for connection and pool errors in {service}'s logs",
                action=StepAction.INVESTIGATE_LOGS,
                parameters={"service": service, "pattern": "(?i)(connection|pool|timeout|deadlock|too many)"},
                reason="An exhausted pool or a failing database shows as connection errors and timeouts.",
            )
        )
    if _MEMORY.search(text):
        keyword.append(
            Proposal(
                key=f"k8s:{service}",
                title=f"Inspect the pods of {service} for OOM kills and restarts",
                action=StepAction.CHECK_KUBERNETES,
                parameters={"service": service, "include": ["pods", "events"]},
                reason="The hypothesis names memory: OOMKilled containers and restarts confirm it.",
            )
        )
    if _CHANGE.search(text):
        keyword.append(
            Proposal(
                key=f"k8s:{service}:rollouts",
                title=f"Review the recent rollouts of {service}",
                action=StepAction.CHECK_KUBERNETES,
                parameters={"service": service, "include": ["rollouts", "events"]},
                reason="The hypothesis names a change: the rollout history says what changed and when.",
            )
        )
    if _LATENCY.search(text):
        keyword.append(
            Proposal(
                key=f"traces:{service}",
                title=f"Find the slow spans of {service}",
                action=StepAction.CHECK_TRACES,
                parameters={"service": service},
                reason="The hypothesis is about slowness: spans show which operation waits.",
            )
        )
        if dependencies:
            keyword.append(_dependencies_metrics(service, dependencies, signals=["p95_latency"], why="latency"))
    if _ERRORS.search(text):
        keyword.append(
            Proposal(
                key=f"logs:{service}:errors",
                title=f"Read the error logs of {service}",
                action=StepAction.INVESTIGATE_LOGS,
                parameters={"service": service},
                reason="The hypothesis is about failures: error lines name them.",
            )
        )
    if not keyword and not found:
        keyword = _baseline(ProposalContext(severity="low", service=service))
    return found + [_prefixed(p, prefix) for p in keyword]


def _prefixed(proposal: Proposal, prefix: str) -> Proposal:
    key = f"{prefix}:{proposal.key}"[:KEY_MAX_LENGTH]
    return Proposal(key, proposal.title, proposal.action, proposal.parameters, proposal.reason)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
