"""The facts an RCA is built from: plain, frozen, read by ``investigation.selectors.rca_context``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class IncidentInfo:
    id: int
    title: str
    severity: str
    status: str
    detected_at: datetime
    description: str = ""
    service: str | None = None
    service_name: str | None = None
    team: str | None = None
    source: str = "manual"
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    impact_started_at: datetime | None = None
    commander: str | None = None
    resolution_note: str = ""
    url: str = ""


@dataclass(frozen=True)
class AlertInfo:
    rule: str | None
    query: str = ""
    comparator: str = ""
    threshold: float | None = None
    value: float | None = None
    severity: str = ""
    source: str = ""
    active_since: datetime | None = None
    fired_at: datetime | None = None
    detection_latency_seconds: float | None = None


@dataclass(frozen=True)
class CorrelationInfo:
    id: int
    kind: str
    title: str
    confidence: float
    signal: str = ""
    detail: str = ""
    rank: int | None = None
    is_root_cause_candidate: bool = False
    service: str | None = None
    source: str = ""
    link: str = ""


@dataclass(frozen=True)
class EvidenceLink:
    relation: str  # "supports" | "refutes"
    title: str
    correlation_id: int | None = None
    step_id: int | None = None


@dataclass(frozen=True)
class HypothesisInfo:
    id: int
    title: str
    status: str
    confidence: float
    description: str = ""
    conclusion: str = ""
    concluded_at: datetime | None = None
    evidence: tuple[EvidenceLink, ...] = ()


@dataclass(frozen=True)
class StepInfo:
    id: int
    title: str
    action: str
    status: str
    summary: str = ""
    error: str = ""
    verdict: str | None = None
    hypothesis_id: int | None = None
    completed_at: datetime | None = None
    link: str = ""
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    message: str
    actor: str = ""


@dataclass(frozen=True)
class RCAContext:
    incident: IncidentInfo
    now: datetime
    impact: Mapping[str, Any] = field(default_factory=dict)
    alerts: tuple[AlertInfo, ...] = ()
    # Ranked, best first.
    correlations: tuple[CorrelationInfo, ...] = ()
    hypotheses: tuple[HypothesisInfo, ...] = ()
    steps: tuple[StepInfo, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    # ``Recommendation.as_dict()`` of the incident's recommended actions, best first.
    recommendations: tuple[Mapping[str, Any], ...] = ()
