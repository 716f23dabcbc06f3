"""Impact and blast radius of an incident. Pure: facts and the dependency graph in, an ``Impact`` out.

The blast radius is the affected service and everything that depends on it, transitively
(through ``Service.depends_on`` read backwards): they call it, so they feel it. The suggested
severity follows from how much is failing, how many services stand behind it and how many of
its pods are down; every rule that fired is listed in ``reasons``, so the suggestion can be
argued with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from correlation import graph as graphs
from correlation.graph import DependencyGraph

# The incidents app's Severity values, most severe first.
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class AffectedService:
    service: str
    depth: int  # 0: the service itself; 1: its direct callers; ...


@dataclass(frozen=True)
class Impact:
    service: str | None
    suggested_severity: str
    blast_radius: tuple[AffectedService, ...]
    failing_share: float | None = None
    failing_share_peak: float | None = None
    pods_affected: tuple[str, ...] = ()
    pods_total: int | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "suggested_severity": self.suggested_severity,
            "blast_radius": [{"service": a.service, "depth": a.depth} for a in self.blast_radius],
            "dependents": [a.service for a in self.blast_radius if a.depth > 0],
            "failing_share": _round(self.failing_share),
            "failing_share_peak": _round(self.failing_share_peak),
            "pods_affected": list(self.pods_affected),
            "pods_total": self.pods_total,
            "reasons": list(self.reasons),
        }


def blast_radius(graph: DependencyGraph, service: str) -> tuple[AffectedService, ...]:
    """The service, then its callers nearest first (ties by name)."""
    found = graphs.dependents(graph, service)
    ordered = sorted(found.items(), key=lambda item: (item[1], item[0]))
    return (AffectedService(service, 0), *(AffectedService(name, depth) for name, depth in ordered))


def suggest_severity(
    *,
    failing_share: float | None,
    dependents: int,
    pods_affected: int = 0,
    pods_total: int | None = None,
) -> tuple[str, tuple[str, ...]]:
    """The severity the facts suggest and the reasons for it.

    critical: a quarter or more of requests failing; or every pod down; or a tenth failing
              with three or more services behind it.
    high:     5 % or more failing; or half the pods down; or any failure with three or more
              services behind it.
    medium:   1 % or more failing, or any pod down.
    low:      nothing measurable.
    """
    share = failing_share if failing_share is not None and math.isfinite(failing_share) else None
    pod_share = pods_affected / pods_total if pods_total else None
    reasons: list[str] = []
    level = "low"

    def raise_to(candidate: str, reason: str) -> None:
        nonlocal level
        reasons.append(reason)
        if SEVERITIES.index(candidate) < SEVERITIES.index(level):
            level = candidate

    if share is not None:
        percent = f"{share * 100:.1f}% of requests failing"
        if share >= 0.25:
            raise_to("critical", percent)
        elif share >= 0.10 and dependents >= 3:
            raise_to("critical", f"{percent} with {dependents} services depending on it")
        elif share >= 0.05:
            raise_to("high", percent)
        elif share > 0 and dependents >= 3:
            raise_to("high", f"{percent} with {dependents} services depending on it")
        elif share >= 0.01:
            raise_to("medium", percent)
    if pods_total and pods_affected:
        pods = f"{pods_affected} of {pods_total} pods unhealthy"
        if pods_affected >= pods_total:
            raise_to("critical", pods)
        elif pod_share is not None and pod_share >= 0.5:
            raise_to("high", pods)
        else:
            raise_to("medium", pods)
    if not reasons:
        reasons.append("no failing requests or unhealthy pods measured")
    return level, tuple(reasons)


def assess_impact(
    *,
    service: str | None,
    graph: DependencyGraph,
    failing_share: float | None = None,
    failing_share_peak: float | None = None,
    pods_affected: Sequence[str] = (),
    pods_total: int | None = None,
) -> Impact:
    radius = blast_radius(graph, service) if service else ()
    dependents = sum(1 for a in radius if a.depth > 0)
    severity, reasons = suggest_severity(
        failing_share=failing_share,
        dependents=dependents,
        pods_affected=len(pods_affected),
        pods_total=pods_total,
    )
    return Impact(
        service=service,
        suggested_severity=severity,
        blast_radius=radius,
        failing_share=failing_share,
        failing_share_peak=failing_share_peak,
        pods_affected=tuple(sorted(pods_affected)),
        pods_total=pods_total,
        reasons=reasons,
    )


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 4)
