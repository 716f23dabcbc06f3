"""MTTA, MTTR and MTTF arithmetic: pure functions over timestamps, shared by the API and stats.

Definitions (seconds):

* MTTA, time to acknowledge: ``acknowledged_at - detected_at``.
* MTTR, time to resolve: ``resolved_at - (impact_started_at or detected_at)``.
* MTTF, time to failure: for each incident of a service, the time since the service's previous
  incidents were all resolved: ``detected_at - latest resolved_at``. An incident detected while
  another of the same service is still unresolved starts no failure-free period, so it gives
  no sample. False positives were no failures: they are left out of MTTR and MTTF.

Summaries give mean, median and the 90th percentile with linear interpolation between closest
ranks (what PostgreSQL's ``percentile_cont`` and NumPy's default compute).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple


def mtta_seconds(detected_at: datetime, acknowledged_at: datetime | None) -> float | None:
    if acknowledged_at is None:
        return None
    return (acknowledged_at - detected_at).total_seconds()


def mttr_seconds(
    detected_at: datetime, resolved_at: datetime | None, impact_started_at: datetime | None = None
) -> float | None:
    if resolved_at is None:
        return None
    return (resolved_at - (impact_started_at or detected_at)).total_seconds()


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of already sorted values; None for no values."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def summarize(values: Iterable[float]) -> dict[str, Any]:
    """``{"count", "mean", "median", "p90"}`` in seconds, rounded to 0.1 s; None values when empty."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "mean": None, "median": None, "p90": None}
    return {
        "count": len(ordered),
        "mean": round(math.fsum(ordered) / len(ordered), 1),
        "median": round(percentile(ordered, 0.5), 1),
        "p90": round(percentile(ordered, 0.9), 1),
    }


class Outage(NamedTuple):
    """One incident of a service, as far as MTTF cares; times in seconds since the epoch."""

    key: Any  # whatever the caller needs to attribute the sample (an id, a row)
    detected: float
    resolved: float | None


def failure_free_periods(
    outages: Iterable[Outage], *, busy_until: float | None = None, still_unresolved: bool = False
) -> list[tuple[Any, float]]:
    """``(key, seconds)`` for each outage of one service that follows a failure-free period.

    ``outages`` are that service's non-false-positive incidents in the range, in any order.
    ``busy_until`` is the latest resolution among its earlier incidents (before the range) and
    ``still_unresolved`` whether one of those earlier incidents was still unresolved.
    """
    samples: list[tuple[Any, float]] = []
    blocked = still_unresolved
    for outage in sorted(outages, key=lambda o: o.detected):
        if not blocked and busy_until is not None and busy_until <= outage.detected:
            samples.append((outage.key, outage.detected - busy_until))
        if outage.resolved is None:
            blocked = True
        elif busy_until is None or outage.resolved > busy_until:
            busy_until = outage.resolved
    return samples
