"""Collectors that answer what a test tells them to, for service and API tests without sources."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from correlation.collectors.base import CollectContext, CollectorResult, CollectorSkipped
from correlation.scoring import Finding
from detection.sources.base import BadResponse


@dataclass
class Stub:
    name: str
    kinds: frozenset[str]
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # None: answer; "garbage": the source answered garbage; "hang": sleep; "crash": a bug; "skip".
    behaviour: str | None = None
    calls: list[CollectContext] = field(default_factory=list)

    def collect(self, context: CollectContext) -> CollectorResult:
        self.calls.append(context)
        if self.behaviour == "garbage":
            raise BadResponse("Prometheus answered 200 with a body that is not JSON: <html>")
        if self.behaviour == "hang":
            time.sleep(3)
        if self.behaviour == "crash":
            raise ZeroDivisionError("division by zero")
        if self.behaviour == "skip":
            raise CollectorSkipped("no such source")
        return CollectorResult(findings=list(self.findings), facts=dict(self.facts))


@dataclass
class Stubs:
    kubernetes: Stub = field(default_factory=lambda: Stub("kubernetes", frozenset({"infrastructure", "change"})))
    metrics: Stub = field(default_factory=lambda: Stub("metrics", frozenset({"metrics"})))
    logs: Stub = field(default_factory=lambda: Stub("logs", frozenset({"logs"})))
    traces: Stub = field(default_factory=lambda: Stub("traces", frozenset({"traces"})))

    def all(self) -> list[Stub]:
        return [self.kubernetes, self.metrics, self.logs, self.traces]


def rollout(at: float, service: str = "checkout", revision: int = 12) -> Finding:
    return Finding(service=service, kind="change", signal="rollout", key=f"change:shop/{service}:{revision}",
                   onset=at, magnitude=1.0, specificity=0.9, source="cluster",
                   title=f"Rollout of {service} to revision {revision}")


def crash(at: float, service: str = "checkout", magnitude: float = 0.8) -> Finding:
    return Finding(service=service, kind="infrastructure", signal="crash_loop",
                   key=f"infrastructure:{service}:crash_loop", onset=at, magnitude=magnitude, specificity=0.85,
                   source="cluster", title=f"2 {service} pods in CrashLoopBackOff", onset_is_upper_bound=True)


def errors(at: float, service: str = "checkout", magnitude: float = 0.95) -> Finding:
    return Finding(service=service, kind="metrics", signal="error_ratio", key=f"metrics:{service}:error_ratio",
                   onset=at, magnitude=magnitude, specificity=0.6, source="prometheus",
                   title=f"Error ratio of {service} rose from 0.0% to 40.0%", evidence={"peak": float("nan")})
