"""test_hypothesis: evaluate a query over the window against an expectation.

"error ratio of payments > 0.05 during the window" is ``{"signal": "error_ratio", "service":
"payments", "comparator": ">", "threshold": 0.05}``; any PromQL works as ``query``. Each series
is reduced to one number (``aggregate``: by default its peak for > and >=, its low for < and
<=, its last value otherwise) and compared. The hypothesis is supported when a series meets
the expectation, refuted when there is data and none does, and the test is inconclusive
without data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detection.evaluators.threshold import compare, normalize_comparator
from investigation.actions import metrics
from investigation.actions.base import (
    MAX_SERIES,
    ActionContext,
    ActionResult,
    ParameterError,
    clean_common,
    clean_query,
    clean_rate_window,
    fmt_number,
    prometheus_link,
    range_step,
    round_value,
)

SOURCE_KIND = "prometheus"
KEYS = frozenset({"query", "signal", "comparator", "threshold", "aggregate", "rate_window"})
AGGREGATES = ("max", "min", "avg", "last")
SUPPORTS, REFUTES, INCONCLUSIVE = "supports", "refutes", "inconclusive"


def clean(raw: Any) -> dict[str, Any]:
    params = clean_common(raw, allowed=KEYS)
    if ("query" in params) == ("signal" in params):
        raise ParameterError("query", "A hypothesis test needs a query or a signal (one of them).")
    if "query" in params:
        params["query"] = clean_query(params["query"])
    if "signal" in params and params["signal"] not in metrics.SIGNALS:
        raise ParameterError("signal", f"signal is one of {', '.join(metrics.SIGNALS)}.")
    try:
        params["comparator"] = normalize_comparator(str(params.get("comparator", "")))
    except ValueError as exc:
        raise ParameterError("comparator", f"comparator is required: {exc}.") from None
    threshold = params.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ParameterError("threshold", "threshold is the number the value is compared with, e.g. 0.05.")
    if "aggregate" in params and params["aggregate"] not in AGGREGATES:
        raise ParameterError("aggregate", f"aggregate is one of {', '.join(AGGREGATES)}.")
    if "rate_window" in params:
        params["rate_window"] = clean_rate_window(params["rate_window"])
    return params


def default_aggregate(comparator: str) -> str:
    return {">": "max", ">=": "max", "<": "min", "<=": "min"}.get(comparator, "last")


def reduce(values: Sequence[float], aggregate: str) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    if aggregate == "max":
        return max(finite)
    if aggregate == "min":
        return min(finite)
    if aggregate == "avg":
        return sum(finite) / len(finite)
    return finite[-1]


@dataclass(frozen=True)
class Observation:
    labels: dict[str, str]
    value: float | None
    holds: bool


def evaluate(
    series: Sequence[tuple[dict[str, str], Sequence[float]]], *, comparator: str, threshold: float, aggregate: str
) -> tuple[str, list[Observation]]:
    """The verdict and what each series showed. Pure."""
    observed = []
    for labels, values in series:
        value = reduce(values, aggregate)
        observed.append(Observation(labels, value, value is not None and compare(value, comparator, threshold)))
    if not any(o.value is not None for o in observed):
        return INCONCLUSIVE, observed
    return (SUPPORTS if any(o.holds for o in observed) else REFUTES), observed


def expectation_text(params: dict[str, Any], subject: str) -> str:
    aggregate = params.get("aggregate") or default_aggregate(params["comparator"])
    return f"{aggregate} of {subject} {params['comparator']} {params['threshold']:g} during the window"


def run(context: ActionContext) -> ActionResult:
    params = dict(context.parameters)
    if params.get("query"):
        query, subject, unit = params["query"], "the query", ""
    else:
        service = context.require_service()
        rate_window = params.get("rate_window") or context.rate_window
        query = metrics.golden_signal_query(params["signal"], service, rate_window)
        subject, unit = f"{metrics.LABELS[params['signal']]} of {service.slug}", metrics.UNITS[params["signal"]]
    aggregate = params.get("aggregate") or default_aggregate(params["comparator"])
    series = context.client().range(query, context.window.start, context.window.end, range_step(context.window))
    verdict, observed = evaluate(
        [(one.labels, [v for _, v in one.points]) for one in series],
        comparator=params["comparator"],
        threshold=float(params["threshold"]),
        aggregate=aggregate,
    )
    expectation = expectation_text({**params, "aggregate": aggregate}, subject)
    data = {
        "window": context.window.as_dict(),
        "source": context.source_name,
        "query": query,
        "expectation": expectation,
        "comparator": params["comparator"],
        "threshold": params["threshold"],
        "aggregate": aggregate,
        "verdict": verdict,
        "observed": [
            {"labels": o.labels, "value": round_value(o.value) if o.value is not None else None, "holds": o.holds}
            for o in observed[:MAX_SERIES]
        ],
        "series_total": len(observed),
        "links": [link for link in [prometheus_link(context.source_url, query, context.window)] if link],
    }
    if verdict == INCONCLUSIVE:
        summary = f"Inconclusive: no data for {subject} in the window (expected {expectation})."
    else:
        shown = fmt_number(_telling_value(observed, params["comparator"]), unit)
        word = "Supports" if verdict == SUPPORTS else "Refutes"
        summary = f"{word} the hypothesis: {aggregate} of {subject} was {shown}; expected {expectation}."
    return ActionResult(summary=summary, data=data, verdict=verdict)


def _telling_value(observed: list[Observation], comparator: str) -> float | None:
    """The value to quote: the first that meets the expectation, else the nearest miss."""
    holding = [o.value for o in observed if o.holds]
    if holding:
        return holding[0]
    values = [o.value for o in observed if o.value is not None]
    if comparator in (">", ">="):
        return max(values)
    if comparator in ("<", "<="):
        return min(values)
    return values[0]
