"""Scoring and ranking of evidence into probable root causes. Pure: no Django, no I/O, no clock.

The collectors, the correlation service and the RCA benchmark all call this module, so the
ranking users see is the ranking the benchmark measures.

A finding's confidence is the weighted sum of five explicit factors, each in [0, 1], each
stored and shown with the reason for its value:

``temporal`` — started before the symptom.
    ``0.5 + 0.5 · tanh(lead / τ)`` where ``lead`` is how long before the symptom's start the
    finding began (negative: after). 0.5 means "at the same time" (the symptom itself). τ is
    the incident's own time scale: half the spread between the earliest finding and the
    symptom, at least a minute, so that among causes minutes apart the earliest still leads,
    while one that began seconds before the symptom is not yet certain. Unknown onset: 0.4.
``magnitude`` — how far the signal moved against its baseline (``Finding.magnitude``).
``specificity`` — how directly this kind of evidence names a cause: a rollout or an
    OOMKill does; a request-rate wobble does not (``Finding.specificity``).
``agreement`` — other sources saying the same service is unwell: ``1 − 0.5ⁿ`` where each
    other kind of evidence on that service counts 1 and each other signal of the same kind ½.
``dependency`` — direction along the dependency graph. Relative to the symptom's service a
    dependency (callee) starts at 0.8, the service itself 0.6, a caller 0.3 (callers are
    victims), anything else 0.2. A finding whose own dependency went bad earlier is halved
    (it is more likely an effect), and so is a latency or error finding whose dependency went
    bad at the same moment: those reach the callers within one sample, so simultaneous onsets
    on a call path point at its deepest service. One that went bad before its callers gets +0.2.

Ranking orders by confidence, then earlier onset, then kind (a change before infrastructure
before traces, metrics, logs). Root-cause candidates are the top findings above
``CANDIDATE_MIN`` that are not the symptom itself (the symptom's own error ratio or latency);
when nothing else qualifies, the symptom's service is the best guess and its finding stays.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from correlation import graph as graphs
from correlation.graph import DependencyGraph

KIND_ORDER = ("change", "infrastructure", "traces", "metrics", "logs")
KINDS = frozenset(KIND_ORDER)
# The signals that make up an incident's symptom on its own service.
SYMPTOM_SIGNALS = frozenset({"error_ratio", "p95_latency"})
MIN_TAU_SECONDS = 60.0
UNKNOWN_ONSET = 0.4
CANDIDATE_MIN = 0.55
MAX_CANDIDATES = 3
RELATION_BASE = {"dependency": 0.8, "same": 0.6, "dependent": 0.3, "unrelated": 0.2, "unknown": 0.5}
# Going bad is what a dependency's metrics, pods, logs or spans show; a change (a rollout) is not.
WENT_BAD_KINDS = frozenset({"infrastructure", "traces", "metrics", "logs"})
# The signals a dependency passes on to its callers: their requests wait for it and fail with it.
PROPAGATING_SIGNALS = frozenset({"error_ratio", "p95_latency", "span_error_ratio", "span_p95_latency"})


@dataclass(frozen=True)
class Finding:
    """One piece of evidence, as plain data. ``onset`` is unix seconds; None when unknown."""

    service: str
    kind: str
    signal: str
    key: str = ""
    onset: float | None = None
    magnitude: float = 0.0
    specificity: float = 0.5
    source: str = ""
    title: str = ""
    detail: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # The collector's words for the magnitude ("2 of 3 pods", "5× the normal band").
    magnitude_why: str = ""
    # True when only "at the latest" is known (a pod's last crash, an event's last sighting).
    onset_is_upper_bound: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}: one of {', '.join(KIND_ORDER)}")
        if not self.key:
            object.__setattr__(self, "key", f"{self.kind}:{self.service}:{self.signal}")
        object.__setattr__(self, "magnitude", _unit(self.magnitude))
        object.__setattr__(self, "specificity", _unit(self.specificity))
        if self.onset is not None and not math.isfinite(self.onset):
            object.__setattr__(self, "onset", None)


@dataclass(frozen=True)
class Weights:
    temporal: float = 0.30
    magnitude: float = 0.25
    specificity: float = 0.20
    agreement: float = 0.10
    dependency: float = 0.15

    def __post_init__(self) -> None:
        values = [self.temporal, self.magnitude, self.specificity, self.agreement, self.dependency]
        if any(w < 0 for w in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-9):
            raise ValueError("weights must be non-negative and sum to 1")


WEIGHTS = Weights()


@dataclass(frozen=True)
class Factor:
    name: str
    value: float
    weight: float
    why: str

    @property
    def contribution(self) -> float:
        return self.value * self.weight

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 3),
            "weight": self.weight,
            "contribution": round(self.contribution, 3),
            "why": self.why,
        }


@dataclass(frozen=True)
class ScoredFinding:
    finding: Finding
    confidence: float
    factors: tuple[Factor, ...]
    rank: int = 0
    is_root_cause_candidate: bool = False
    is_symptom: bool = False

    def factors_dict(self) -> dict[str, dict[str, Any]]:
        return {factor.name: factor.as_dict() for factor in self.factors}


@dataclass(frozen=True)
class RankedCause:
    """A service as a probable root cause: its best finding's confidence and factors."""

    service: str
    confidence: float
    rank: int
    factors: tuple[Factor, ...]
    findings: tuple[ScoredFinding, ...]

    @property
    def best(self) -> ScoredFinding:
        return self.findings[0]


# --------------------------------------------------------------------------------------------
# The symptom
# --------------------------------------------------------------------------------------------


def symptom_onset(findings: Iterable[Finding], symptom_service: str | None, fallback: float) -> float:
    """When the symptom began: the earliest error-ratio or latency change of the symptom's service.

    Without one, ``fallback`` (the operator's impact start, or the detection time).
    """
    onsets = [
        f.onset
        for f in findings
        if f.service == symptom_service and f.signal in SYMPTOM_SIGNALS and f.onset is not None
    ]
    return min(onsets) if onsets else fallback


def is_symptom(finding: Finding, symptom_service: str | None, symptom_start: float) -> bool:
    return (
        finding.service == symptom_service
        and finding.signal in SYMPTOM_SIGNALS
        and (finding.onset is None or finding.onset >= symptom_start)
    )


# --------------------------------------------------------------------------------------------
# Factors
# --------------------------------------------------------------------------------------------


def time_scale(findings: Sequence[Finding], symptom_start: float) -> float:
    onsets = [f.onset for f in findings if f.onset is not None]
    spread = symptom_start - min(onsets) if onsets else 0.0
    return max(MIN_TAU_SECONDS, spread / 2.0)


def temporal_factor(finding: Finding, symptom_start: float, tau: float, weight: float) -> Factor:
    if finding.onset is None:
        return Factor("temporal", UNKNOWN_ONSET, weight, "when it began is unknown")
    lead = symptom_start - finding.onset
    value = 0.5 + 0.5 * math.tanh(lead / tau)
    at_least = "at least " if finding.onset_is_upper_bound else ""
    if abs(lead) < 1.0:
        why = "began with the symptom"
    elif lead > 0:
        why = f"began {at_least}{_duration(lead)} before the symptom"
    else:
        verb = "seen" if at_least else "began"
        why = f"{verb} {_duration(-lead)} after the symptom"
    return Factor("temporal", value, weight, why)


def agreement_factor(finding: Finding, by_service: Mapping[str, Sequence[Finding]], weight: float) -> Factor:
    others = [f for f in by_service.get(finding.service, ()) if f.key != finding.key]
    other_kinds = {f.kind for f in others if f.kind != finding.kind}
    other_signals = {f.signal for f in others if f.kind == finding.kind and f.signal != finding.signal}
    n = len(other_kinds) + 0.5 * len(other_signals)
    value = 1.0 - 0.5**n
    if n == 0:
        why = f"no other evidence on {finding.service}"
    else:
        parts = sorted(other_kinds) + sorted(other_signals)
        why = f"{finding.service} also shows: {', '.join(parts)}"
    return Factor("agreement", value, weight, why)


def dependency_factor(
    finding: Finding,
    graph: DependencyGraph,
    symptom_service: str | None,
    by_service: Mapping[str, Sequence[Finding]],
    weight: float,
) -> Factor:
    rel = graphs.relation(graph, symptom_service, finding.service)
    value = RELATION_BASE[rel]
    why = {
        "same": f"on {finding.service}, the service with the symptom",
        "dependency": f"{finding.service} is a dependency of {symptom_service}",
        "dependent": f"{finding.service} calls {symptom_service}: more likely a victim",
        "unrelated": f"{finding.service} is not on {symptom_service}'s dependency path",
        "unknown": "the incident names no service",
    }[rel]
    if finding.onset is None:
        return Factor("dependency", value, weight, why)

    # Latency and errors reach the callers within one sample: when a dependency went bad at the
    # very moment this service's latency or errors did, the dependency explains them. Its own
    # CPU, memory, pods or logs it does not: those must have gone bad strictly earlier.
    propagated = finding.signal in PROPAGATING_SIGNALS
    earlier = _first_went_bad(
        graphs.dependencies(graph, finding.service), by_service, before=finding.onset, or_at=propagated
    )
    if earlier is not None:
        name, onset = earlier
        value *= 0.5
        when = f"{_duration(finding.onset - onset)} earlier" if onset < finding.onset else "at the same time"
        why += f"; its dependency {name} went bad {when}"
        return Factor("dependency", value, weight, why)
    callers = graphs.dependents(graph, finding.service)
    later_callers = sorted(
        name
        for name in callers
        if any(
            f.onset is not None and f.onset > finding.onset and f.kind in WENT_BAD_KINDS
            for f in by_service.get(name, ())
        )
    )
    if later_callers:
        value = min(1.0, value + 0.2)
        why += f"; went bad before its caller{'s' if len(later_callers) > 1 else ''} {', '.join(later_callers)}"
    return Factor("dependency", value, weight, why)


def _first_went_bad(
    services: Iterable[str], by_service: Mapping[str, Sequence[Finding]], *, before: float, or_at: bool = False
) -> tuple[str, float] | None:
    """The service among ``services`` that went bad first, before ``before`` (or at it, with ``or_at``)."""
    best: tuple[str, float] | None = None
    for name in services:
        for f in by_service.get(name, ()):
            if f.kind not in WENT_BAD_KINDS or f.onset is None:
                continue
            in_time = f.onset < before or (or_at and f.onset == before)
            if in_time and (best is None or f.onset < best[1]):
                best = (name, f.onset)
    return best


# --------------------------------------------------------------------------------------------
# Scoring and ranking
# --------------------------------------------------------------------------------------------


def score_findings(
    findings: Iterable[Finding],
    graph: DependencyGraph,
    *,
    symptom_service: str | None,
    symptom_start: float,
    weights: Weights = WEIGHTS,
) -> list[ScoredFinding]:
    """Every finding with its confidence and factors, ranked best first (rank 1 = best).

    Findings with the same key are merged first: the one with the higher magnitude stays.
    """
    unique: dict[str, Finding] = {}
    for f in findings:
        kept = unique.get(f.key)
        if kept is None or f.magnitude > kept.magnitude:
            unique[f.key] = f
    items = list(unique.values())
    if not items:
        return []
    by_service: dict[str, list[Finding]] = defaultdict(list)
    for f in items:
        by_service[f.service].append(f)
    tau = time_scale(items, symptom_start)

    scored: list[ScoredFinding] = []
    for f in items:
        factors = (
            temporal_factor(f, symptom_start, tau, weights.temporal),
            Factor("magnitude", f.magnitude, weights.magnitude, _magnitude_why(f)),
            Factor("specificity", f.specificity, weights.specificity, _specificity_why(f)),
            agreement_factor(f, by_service, weights.agreement),
            dependency_factor(f, graph, symptom_service, by_service, weights.dependency),
        )
        confidence = round(_unit(sum(factor.contribution for factor in factors)), 3)
        scored.append(
            ScoredFinding(
                finding=f,
                confidence=confidence,
                factors=factors,
                is_symptom=is_symptom(f, symptom_service, symptom_start),
            )
        )
    return rank_findings(scored)


def rank_findings(scored: Iterable[ScoredFinding]) -> list[ScoredFinding]:
    """Order by confidence, then earlier onset, then kind; number them; mark the candidates."""
    ordered = sorted(scored, key=_order_key)
    causes = [s for s in ordered if not s.is_symptom and s.confidence >= CANDIDATE_MIN][:MAX_CANDIDATES]
    if not causes:
        causes = [s for s in ordered if s.confidence >= CANDIDATE_MIN][:1]
    chosen = {id(s) for s in causes}
    return [
        replace(s, rank=index, is_root_cause_candidate=id(s) in chosen) for index, s in enumerate(ordered, start=1)
    ]


def _order_key(s: ScoredFinding) -> tuple[Any, ...]:
    f = s.finding
    return (
        -s.confidence,
        f.onset if f.onset is not None else math.inf,
        KIND_ORDER.index(f.kind),
        f.key,
    )


def rank_services(
    findings: Iterable[Finding] | Mapping[str, Iterable[Finding]],
    graph: DependencyGraph,
    *,
    symptom_service: str | None,
    symptom_start: float,
    weights: Weights = WEIGHTS,
) -> list[RankedCause]:
    """Services ranked as probable root causes (the RCA benchmark's entry point).

    ``findings`` is a flat iterable or ``{service: findings}``. A service's confidence is its
    best finding's; ties go to the service with more kinds of evidence, then the earlier onset.
    Services without findings are not listed: no evidence, no accusation.
    """
    flat = [f for group in findings.values() for f in group] if isinstance(findings, Mapping) else list(findings)
    scored = score_findings(flat, graph, symptom_service=symptom_service, symptom_start=symptom_start, weights=weights)
    grouped: dict[str, list[ScoredFinding]] = defaultdict(list)
    for s in scored:
        grouped[s.finding.service].append(s)

    def key(item: tuple[str, list[ScoredFinding]]) -> tuple[Any, ...]:
        service, group = item
        onsets = [s.finding.onset for s in group if s.finding.onset is not None]
        return (-group[0].confidence, -len({s.finding.kind for s in group}), min(onsets, default=math.inf), service)

    ranked = sorted(grouped.items(), key=key)
    return [
        RankedCause(service=service, confidence=group[0].confidence, rank=index, factors=group[0].factors,
                    findings=tuple(group))
        for index, (service, group) in enumerate(ranked, start=1)
    ]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _magnitude_why(f: Finding) -> str:
    if f.magnitude_why:
        return f.magnitude_why
    if f.magnitude >= 0.8:
        return "far outside its normal range"
    if f.magnitude >= 0.5:
        return "clearly outside its normal range"
    if f.magnitude > 0:
        return "just outside its normal range"
    return "no measurable change"


def _specificity_why(f: Finding) -> str:
    if f.kind == "change":
        return "a change to the service: the most common cause"
    if f.specificity >= 0.8:
        return f"{f.signal.replace('_', ' ')} names a concrete failure"
    if f.specificity >= 0.55:
        return f"{f.signal.replace('_', ' ')} points at this service"
    return f"{f.signal.replace('_', ' ')} often moves as a side effect"


def _unit(value: float) -> float:
    if value is None or not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
