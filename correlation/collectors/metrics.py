"""Golden signals from Prometheus: the service's and its dependencies', window against baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Template
from typing import Any

from correlation.changes import SIGNALS, detect_change, finding_from_series, finite_points
from correlation.collectors.base import ClientFactory, CollectContext, CollectorResult, ServiceRef, settled
from correlation.scoring import Finding
from detection.sources.base import BadQuery, Series

# ``$selector`` is the service's matchers (``service="checkout"``), ``$window`` the rate window.
# CPU and memory use the same matchers: where the container metrics carry other labels, set
# CORRELATION_METRIC_QUERIES; a query that matches nothing is skipped, never an error.
DEFAULT_QUERIES: Mapping[str, str] = {
    "error_ratio": (
        'sum(rate(http_requests_total{$selector,code=~"5.."}[$window]))'
        " / sum(rate(http_requests_total{$selector}[$window]))"
    ),
    "p95_latency": (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))"
    ),
    "request_rate": "sum(rate(http_requests_total{$selector}[$window]))",
    "cpu": "sum(rate(container_cpu_usage_seconds_total{$selector}[$window]))",
    "memory": "sum(container_memory_working_set_bytes{$selector})",
}


def queries(overrides: Mapping[str, str | None]) -> dict[str, str]:
    merged: dict[str, str | None] = {**DEFAULT_QUERIES, **overrides}
    return {signal: query for signal, query in merged.items() if query}


@dataclass
class MetricsCollector:
    client_factory: ClientFactory
    source: str
    name: str = "metrics"
    kinds: frozenset[str] = frozenset({"metrics"})

    def collect(self, context: CollectContext) -> CollectorResult:
        client = self.client_factory()
        window = context.window
        step = context.options.step(window)
        result = CollectorResult()
        for service in context.services:
            for signal, template in queries(context.options.metric_queries).items():
                query = Template(template).safe_substitute(
                    selector=service.matchers(), window=context.options.rate_window
                )
                try:
                    raw = client.range(query, window.baseline_start, window.end, step)
                except BadQuery as exc:
                    # One bad template must not hide the other signals; the source itself is fine.
                    result.notes.append(f"{signal} of {service.slug}: the query was rejected: {exc.message}")
                    continue
                rate_seconds = context.options.rate_window_seconds
                series = [
                    Series(s.labels, settled(s.points, range_start=window.baseline_start, step=step,
                                             rate_window=rate_seconds))
                    for s in raw
                ]
                finding = self._strongest(service, signal, series, query, window.baseline_end)
                if finding is not None:
                    result.findings.append(finding)
                if service is context.service:
                    _record_facts(result.facts, signal, series, window.baseline_end)
        return result

    def _strongest(
        self, service: ServiceRef, signal: str, series: list[Series], query: str, baseline_end: float
    ) -> Finding | None:
        best: Finding | None = None
        for one in series:
            finding = finding_from_series(
                service=service.slug,
                signal=signal,
                points=one.points,
                baseline_end=baseline_end,
                source=self.source,
                evidence={"query": query, "labels": one.labels},
            )
            if finding is not None and (best is None or finding.magnitude > best.magnitude):
                best = finding
        return best


def _record_facts(facts: dict[str, Any], signal: str, series: list[Series], baseline_end: float) -> None:
    """The latest and peak value in the window of the incident's own service, for the impact."""
    if signal not in ("error_ratio", "request_rate") or len(series) != 1:
        return
    points = [p for p in finite_points(series[0].points) if p[0] >= baseline_end]
    if not points:
        return
    facts[f"{signal}_last"] = points[-1][1]
    facts[f"{signal}_peak"] = max(v for _, v in points)
    if signal == "error_ratio":
        change = detect_change(series[0].points, baseline_end=baseline_end, spec=SIGNALS["error_ratio"])
        facts["error_ratio_changed"] = change is not None
