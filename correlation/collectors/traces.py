"""Traces, read as span metrics in Prometheus: the erroring and slowest spans of the service
and of what it calls.

Two generators are known. Tempo's metrics-generator writes ``traces_spanmetrics_calls_total``
and ``traces_spanmetrics_latency_bucket`` (seconds) labelled ``service``; the OpenTelemetry
Collector's spanmetrics connector writes ``traces_span_metrics_calls_total`` and
``traces_span_metrics_duration_milliseconds_bucket`` (older releases: ``calls_total`` and
``duration_milliseconds_bucket``) labelled ``service_name``. Both label ``span_name``,
``span_kind`` and ``status_code`` (``STATUS_CODE_ERROR`` on errors). Which one a Prometheus has
is found with one cheap instant query; with none, the collector skips and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from correlation.changes import finding_from_series
from correlation.collectors.base import (
    ClientFactory,
    CollectContext,
    CollectorResult,
    CollectorSkipped,
    ServiceRef,
    settled,
)
from correlation.scoring import Finding
from detection.sources.base import BadQuery

MAX_FINDINGS_PER_SIGNAL = 3


@dataclass(frozen=True)
class SpanMetrics:
    flavour: str
    calls: str
    latency_bucket: str
    # Multiply a latency quantile by this to get seconds.
    latency_to_seconds: float
    service_label: str
    status_label: str = "status_code"
    error_status: str = "STATUS_CODE_ERROR"


FLAVOURS: tuple[SpanMetrics, ...] = (
    SpanMetrics("tempo", "traces_spanmetrics_calls_total", "traces_spanmetrics_latency_bucket", 1.0, "service"),
    SpanMetrics(
        "otel",
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_milliseconds_bucket",
        0.001,
        "service_name",
    ),
    SpanMetrics("otel-legacy", "calls_total", "duration_milliseconds_bucket", 0.001, "service_name"),
)
_NAMES = "|".join(f.calls for f in FLAVOURS)
PROBE = f'count by (__name__) ({{__name__=~"{_NAMES}", span_name!=""}})'


@dataclass
class TracesCollector:
    client_factory: ClientFactory
    source: str
    name: str = "traces"
    kinds: frozenset[str] = frozenset({"traces"})

    def collect(self, context: CollectContext) -> CollectorResult:
        client = self.client_factory()
        present = {sample.labels.get("__name__") for sample in client.instant(PROBE, context.window.end)}
        flavour = next((f for f in FLAVOURS if f.calls in present), None)
        if flavour is None:
            raise CollectorSkipped(
                f"no traces source: Prometheus {self.source!r} has no span metrics "
                f"({', '.join(f.calls for f in FLAVOURS)})"
            )
        result = CollectorResult(facts={"span_metrics": flavour.flavour})
        window = context.window
        step = context.options.step(window)
        rate = context.options.rate_window
        for service in context.services:
            for signal, query in _queries(flavour, service, rate).items():
                try:
                    series = client.range(query, window.baseline_start, window.end, step)
                except BadQuery as exc:
                    result.notes.append(f"{signal} of {service.slug}: the query was rejected: {exc.message}")
                    continue
                found: list[Finding] = []
                for one in series:
                    span = one.labels.get("span_name", "")
                    finding = finding_from_series(
                        service=service.slug,
                        signal=signal,
                        kind="traces",
                        points=settled(one.points, range_start=window.baseline_start, step=step,
                                       rate_window=context.options.rate_window_seconds),
                        baseline_end=window.baseline_end,
                        source=self.source,
                        subject=span,
                        key=f"traces:{service.slug}:{span}:{signal}",
                        evidence={"query": query, "span_name": span, "labels": one.labels,
                                  "span_metrics": flavour.flavour},
                    )
                    if finding is not None:
                        found.append(finding)
                found.sort(key=lambda f: -f.magnitude)
                result.findings += found[:MAX_FINDINGS_PER_SIGNAL]
        return result


def _queries(flavour: SpanMetrics, service: ServiceRef, rate: str) -> dict[str, str]:
    selector = f'{flavour.service_label}="{service.trace_service()}"'
    errors = f'{selector},{flavour.status_label}="{flavour.error_status}"'
    return {
        # "or ... * 0": a span without errors has no error series; it must read 0, not vanish,
        # or its baseline would be empty and its first errors would look normal.
        "span_error_ratio": (
            f"(sum by (span_name) (rate({flavour.calls}{{{errors}}}[{rate}]))"
            f" or sum by (span_name) (rate({flavour.calls}{{{selector}}}[{rate}])) * 0)"
            f" / sum by (span_name) (rate({flavour.calls}{{{selector}}}[{rate}]))"
        ),
        "span_p95_latency": (
            f"histogram_quantile(0.95, sum by (le, span_name) (rate({flavour.latency_bucket}{{{selector}}}[{rate}])))"
            + (f" * {flavour.latency_to_seconds:g}" if flavour.latency_to_seconds != 1.0 else "")
        ),
    }
