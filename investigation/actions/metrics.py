"""check_metrics: a PromQL query, or the golden signals of a service and of what it calls.

Without ``query`` the service's ``telemetry_labels`` select its series under the conventional
metric names (``http_requests_total{code=...}`` and ``http_request_duration_seconds_bucket``):
error ratio, p95 latency and request rate over the step's window.
"""

from __future__ import annotations

from typing import Any

from correlation.collectors.base import ServiceRef
from detection.sources.base import BadQuery
from investigation.actions.base import (
    MAX_SERIES,
    ActionContext,
    ActionFailed,
    ActionResult,
    ParameterError,
    clean_choices,
    clean_common,
    clean_query,
    clean_rate_window,
    fmt_number,
    prometheus_link,
    range_step,
    series_excerpt,
)

SOURCE_KIND = "prometheus"
SIGNALS = ("error_ratio", "p95_latency", "request_rate")
SCOPES = ("service", "dependencies", "both")
UNITS = {"error_ratio": "ratio", "p95_latency": "seconds", "request_rate": "per_second"}
LABELS = {"error_ratio": "error ratio", "p95_latency": "p95 latency", "request_rate": "request rate"}
# ``{selector}`` is the service's matchers, ``{window}`` the rate window. "or vector(0)": a
# service without a single 5xx has no error series, and its ratio must read 0, not vanish.
TEMPLATES = {
    "error_ratio": (
        '(sum(rate(http_requests_total{{{selector},code=~"5.."}}[{window}])) or vector(0))'
        " / sum(rate(http_requests_total{{{selector}}}[{window}]))"
    ),
    "p95_latency": (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}[{window}])))"
    ),
    "request_rate": "sum(rate(http_requests_total{{{selector}}}[{window}]))",
}
KEYS = frozenset({"query", "signals", "scope", "rate_window"})


def golden_signal_query(signal: str, service: ServiceRef, rate_window: str) -> str:
    return TEMPLATES[signal].format(selector=service.matchers(), window=rate_window)


def clean(raw: Any) -> dict[str, Any]:
    params = clean_common(raw, allowed=KEYS)
    if "query" in params:
        params["query"] = clean_query(params["query"])
        for key in ("signals", "scope"):
            if key in params:
                raise ParameterError(key, f"{key} applies to golden signals, not to an explicit query.")
    if "signals" in params:
        params["signals"] = clean_choices(params["signals"], "signals", SIGNALS)
    if "scope" in params and params["scope"] not in SCOPES:
        raise ParameterError("scope", f"scope is one of {', '.join(SCOPES)}.")
    if "rate_window" in params:
        params["rate_window"] = clean_rate_window(params["rate_window"])
    return params


def run(context: ActionContext) -> ActionResult:
    params = context.parameters
    if params.get("query"):
        return _run_query(context, params["query"])
    return _run_golden_signals(context)


def _run_query(context: ActionContext, query: str) -> ActionResult:
    series = context.client().range(query, context.window.start, context.window.end, range_step(context.window))
    excerpts = [series_excerpt(one) for one in series[:MAX_SERIES]]
    data = {
        "window": context.window.as_dict(),
        "source": context.source_name,
        "queries": [{"query": query, "series": excerpts, "series_total": len(series)}],
        "links": [link for link in [prometheus_link(context.source_url, query, context.window)] if link],
    }
    if not series:
        return ActionResult(summary="The query returned no series in the window.", data=data)
    first = excerpts[0]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(first["labels"].items()) if k != "__name__") or "no labels"
    summary = (
        f"{len(series)} series; {labels}: last {fmt_number(first['last'])}, "
        f"min {fmt_number(first['min'])}, max {fmt_number(first['max'])}."
    )
    return ActionResult(summary=summary, data=data)


def _run_golden_signals(context: ActionContext) -> ActionResult:
    params = context.parameters
    scope = params.get("scope", "service")
    targets: list[ServiceRef] = []
    if scope in ("service", "both"):
        targets.append(context.require_service())
    if scope in ("dependencies", "both"):
        targets.extend(context.dependencies)
    if not targets:
        raise ActionFailed("the service calls no other service (Service.depends_on is empty)")
    signals = params.get("signals") or list(SIGNALS)
    rate_window = params.get("rate_window") or context.rate_window
    client = context.client()
    step = range_step(context.window)
    queries: list[dict[str, Any]] = []
    notes: list[str] = []
    lines: list[str] = []
    for target in targets:
        parts: list[str] = []
        for signal in signals:
            query = golden_signal_query(signal, target, rate_window)
            try:
                series = client.range(query, context.window.start, context.window.end, step)
            except BadQuery as exc:
                notes.append(f"{LABELS[signal]} of {target.slug}: the query was rejected: {exc.message}")
                continue
            excerpts = [series_excerpt(one) for one in series[:MAX_SERIES]]
            queries.append({"service": target.slug, "signal": signal, "query": query, "series": excerpts})
            if excerpts and excerpts[0]["last"] is not None:
                one = excerpts[0]
                unit = UNITS[signal]
                parts.append(f"{LABELS[signal]} {fmt_number(one['last'], unit)} (peak {fmt_number(one['max'], unit)})")
        lines.append(f"{target.slug}: {', '.join(parts)}" if parts else f"{target.slug}: no data")
    data = {
        "window": context.window.as_dict(),
        "source": context.source_name,
        "rate_window": rate_window,
        "queries": queries,
        "notes": notes,
        "links": [link for q in queries if (link := prometheus_link(context.source_url, q["query"], context.window))][
            :MAX_SERIES
        ],
    }
    if all(line.endswith(": no data") for line in lines):
        hint = " (do the services' telemetry_labels select their series?)"
        return ActionResult(summary="No golden-signal data in the window" + hint + ".", data=data)
    return ActionResult(summary="; ".join(lines) + ".", data=data)
