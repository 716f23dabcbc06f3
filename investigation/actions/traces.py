"""check_traces: the service's spans over the window, read as span metrics in Prometheus.

No studio source speaks a trace store's API; what traces tell in aggregate (which operations
fail, which are slow) Tempo's metrics-generator and the OpenTelemetry spanmetrics connector
write to Prometheus, and that is what this reads: per span, the error ratio and the p95
latency over the whole window. The flavours are correlation's (``correlation.collectors.traces``).
"""

from __future__ import annotations

from typing import Any

from correlation.collectors.traces import FLAVOURS, PROBE, SpanMetrics
from investigation.actions.base import (
    ActionContext,
    ActionFailed,
    ActionResult,
    ParameterError,
    clean_common,
    clip,
    finite,
    fmt_number,
    prometheus_link,
    round_value,
)

SOURCE_KIND = "prometheus"
KEYS = frozenset({"span", "top"})
DEFAULT_TOP = 5


def clean(raw: Any) -> dict[str, Any]:
    params = clean_common(raw, allowed=KEYS)
    if "span" in params and (not isinstance(params["span"], str) or not params["span"].strip()):
        raise ParameterError("span", 'span is a span name to keep, e.g. "POST /charge".')
    if "top" in params:
        top = params["top"]
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 20:
            raise ParameterError("top", "top is a whole number from 1 to 20.")
    return params


def span_queries(flavour: SpanMetrics, trace_service: str, range_seconds: int, span: str | None) -> dict[str, str]:
    selector = f'{flavour.service_label}="{_escape(trace_service)}"'
    if span:
        selector += f',span_name="{_escape(span)}"'
    errors = f'{selector},{flavour.status_label}="{flavour.error_status}"'
    window = f"{range_seconds}s"
    scale = f" * {flavour.latency_to_seconds:g}" if flavour.latency_to_seconds != 1.0 else ""
    return {
        "calls_per_second": f"sum by (span_name) (rate({flavour.calls}{{{selector}}}[{window}]))",
        "error_ratio": (
            f"sum by (span_name) (rate({flavour.calls}{{{errors}}}[{window}]))"
            f" / sum by (span_name) (rate({flavour.calls}{{{selector}}}[{window}]))"
        ),
        "p95_latency_seconds": (
            f"histogram_quantile(0.95, sum by (le, span_name) (rate({flavour.latency_bucket}{{{selector}}}[{window}])))"
            + scale
        ),
    }


def run(context: ActionContext) -> ActionResult:
    service = context.require_service()
    client = context.client()
    end = context.window.end
    present = {sample.labels.get("__name__") for sample in client.instant(PROBE, end)}
    flavour = next((f for f in FLAVOURS if f.calls in present), None)
    if flavour is None:
        raise ActionFailed(
            f"no traces to read: Prometheus {context.source_name!r} has no span metrics "
            f"({', '.join(f.calls for f in FLAVOURS)})"
        )
    top = int(context.parameters.get("top") or DEFAULT_TOP)
    queries = span_queries(
        flavour, service.trace_service(), int(context.window.seconds), context.parameters.get("span")
    )
    spans: dict[str, dict[str, Any]] = {}
    for metric, query in queries.items():
        for sample in client.instant(query, end):
            name = sample.labels.get("span_name", "")
            value = finite(sample.value)
            spans.setdefault(name, {"span": name})[metric] = round_value(value) if value is not None else None
    listed = list(spans.values())
    by_errors = sorted(listed, key=lambda s: -(s.get("error_ratio") or 0.0))[:top]
    by_latency = sorted(listed, key=lambda s: -(s.get("p95_latency_seconds") or 0.0))[:top]
    data = {
        "window": context.window.as_dict(),
        "source": context.source_name,
        "span_metrics": flavour.flavour,
        "trace_service": service.trace_service(),
        "spans_total": len(listed),
        "most_errors": by_errors,
        "slowest": by_latency,
        "queries": queries,
        "links": [link for q in queries.values() if (link := prometheus_link(context.source_url, q, context.window))],
    }
    if not listed:
        return ActionResult(summary=f"No spans of {service.trace_service()} in the window.", data=data)
    worst, slowest = by_errors[0], by_latency[0]
    summary = (
        f"{len(listed)} spans of {service.trace_service()}; most errors: {clip(worst['span'], 80)} "
        f"({fmt_number(worst.get('error_ratio'), 'ratio')}); slowest: {clip(slowest['span'], 80)} "
        f"(p95 {fmt_number(slowest.get('p95_latency_seconds'), 'seconds')})."
    )
    return ActionResult(summary=summary, data=data)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
