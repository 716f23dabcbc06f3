"""Did a series move, when did it start, and how far? Pure: points in, a ``Change`` out.

The metrics and traces collectors and the RCA benchmark all feed series through
``detect_change`` (or ``finding_from_series``), so production and benchmark share one method:

1. **Baseline band.** The baseline is the points before ``baseline_end`` (the incident
   window's start). Its centre is the median and its spread the MAD scaled by 1.4826 (falling
   back to 1.2533 × the mean absolute deviation when more than half the points are equal, as
   for an idle error counter). The band's half-width is the largest of ``z_threshold`` × that
   spread, the signal's absolute floor (a change too small to matter in its unit, e.g. one
   percentage point of errors) and its relative floor × |median|. Floors keep a flat series
   from flagging noise: a robust z against a spread of zero would call anything an anomaly.
   A young series (a new service, a Prometheus that just started) may have too few points
   before the window. Its baseline is then its leading segment: the points before its most
   likely change point (the split that best explains the series as two levels, by least
   squares), and the evidence says so. The onset is then looked for from the end of the
   first ``min_baseline`` points on, since the split may fall midway up a ramp.
2. **Onset** is the first point of the first run of ``min_run`` consecutive points outside
   the band on the same side. One point outside is a blip, not a change.
3. **Magnitude**: the peak's distance from the median in band half-widths, ``r``, mapped to
   [0, 1) by ``r² / (r² + 4)``: 0.2 at the band's edge, 0.5 at twice it, 0.96 at ten times.
   A spike that does not hold (fewer than ``step_share`` of the later points outside the
   band) keeps 80 % of that: a sustained step change is the stronger evidence.

NaN and ±Inf points (0/0 ratios without traffic, a histogram quantile in the +Inf bucket)
are skipped: they say "unknown", not "zero".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Literal

from correlation.scoring import Finding

Direction = Literal["up", "down", "both"]
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
EXCERPT_POINTS = 24


@dataclass(frozen=True)
class SignalSpec:
    name: str
    label: str
    unit: str = ""
    direction: Direction = "up"
    # The smallest change that matters, in the signal's own unit.
    abs_floor: float = 0.0
    rel_floor: float = 0.1
    z_threshold: float = 3.5
    min_run: int = 2
    min_baseline: int = 5
    step_share: float = 0.7
    # How strongly a change of this signal points at a cause rather than at a symptom.
    specificity: float = 0.5

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down", "both"):
            raise ValueError("direction must be 'up', 'down' or 'both'")
        if self.min_run < 1 or self.min_baseline < 3:
            raise ValueError("min_run must be >= 1 and min_baseline >= 3")
        if not 0.0 <= self.specificity <= 1.0:
            raise ValueError("specificity must be within [0, 1]")


# The golden signals and span signals the collectors know; a benchmark may pass its own.
SIGNALS: Mapping[str, SignalSpec] = {
    spec.name: spec
    for spec in (
        SignalSpec("error_ratio", "error ratio", "ratio", "up", abs_floor=0.01, rel_floor=0.5, specificity=0.6),
        SignalSpec("p95_latency", "p95 latency", "s", "up", abs_floor=0.02, rel_floor=0.3, specificity=0.55),
        SignalSpec("request_rate", "request rate", "req/s", "both", abs_floor=0.5, rel_floor=0.3, specificity=0.3),
        SignalSpec("cpu", "CPU usage", "cores", "up", abs_floor=0.05, rel_floor=0.3, specificity=0.45),
        SignalSpec("memory", "memory working set", "bytes", "up", abs_floor=16 * 2**20, rel_floor=0.2, specificity=0.5),
        SignalSpec("span_error_ratio", "span error ratio", "ratio", abs_floor=0.01, rel_floor=0.5, specificity=0.7),
        SignalSpec("span_p95_latency", "span p95 latency", "s", abs_floor=0.02, rel_floor=0.3, specificity=0.6),
    )
}
GENERIC = SignalSpec("generic", "value", direction="both")


@dataclass(frozen=True)
class Change:
    onset: float
    direction: Literal["up", "down"]
    baseline_median: float
    band: tuple[float, float]
    baseline_points: int
    baseline_source: Literal["window", "leading"]
    peak: float
    peak_at: float
    last: float
    # The peak's distance from the median, in band half-widths (1.0 = at the band's edge).
    excursion: float
    step_change: bool
    magnitude: float
    excerpt: list[list[float]] = field(default_factory=list)

    def as_evidence(self) -> dict[str, Any]:
        return {
            "onset": self.onset,
            "direction": self.direction,
            "baseline": {
                "median": _round(self.baseline_median),
                "band": [_round(self.band[0]), _round(self.band[1])],
                "points": self.baseline_points,
                "from": self.baseline_source,
            },
            "peak": _round(self.peak),
            "peak_at": self.peak_at,
            "last": _round(self.last),
            "excursion": _round(self.excursion),
            "step_change": self.step_change,
            "series": self.excerpt,
        }


def finite_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return sorted((float(t), float(v)) for t, v in points if math.isfinite(v) and math.isfinite(t))


def magnitude_from_excursion(excursion: float) -> float:
    """``r² / (r² + 4)``: 0 at the median, 0.2 at the band's edge, 0.5 at twice it."""
    if not math.isfinite(excursion):
        return 1.0 if excursion > 0 else 0.0
    r2 = excursion * excursion
    return r2 / (r2 + 4.0)


def robust_scale(values: Sequence[float]) -> float:
    """MAD × 1.4826, or 1.2533 × mean absolute deviation when the MAD is 0."""
    if not values:
        return 0.0
    centre = median(values)
    deviations = [abs(v - centre) for v in values]
    mad = median(deviations)
    if mad > 0:
        return mad * MAD_TO_SIGMA
    return MEAN_AD_TO_SIGMA * sum(deviations) / len(deviations)


def detect_change(
    points: Sequence[tuple[float, float]],
    *,
    baseline_end: float,
    spec: SignalSpec = GENERIC,
) -> Change | None:
    """The change of a series after ``baseline_end`` against its baseline, or None.

    ``points`` are ``(unix seconds, value)``; order does not matter. None means the series did
    not leave its band, or there was too little history to say what its band is.
    """
    clean = finite_points(points)
    before = [p for p in clean if p[0] < baseline_end]
    after = [p for p in clean if p[0] >= baseline_end]
    source: Literal["window", "leading"] = "window"
    if len(before) < spec.min_baseline:
        split = change_point(clean, min_left=spec.min_baseline, min_right=spec.min_run)
        if split is None:
            return None
        before, after, source = clean[:split], clean[spec.min_baseline:], "leading"
    if len(after) < spec.min_run:
        return None

    values = [v for _, v in before]
    centre = median(values)
    half_width = max(spec.z_threshold * robust_scale(values), spec.abs_floor, spec.rel_floor * abs(centre))
    if half_width <= 0:
        half_width = 1e-12
    low, high = centre - half_width, centre + half_width

    def side(value: float) -> int:
        if value > high and spec.direction in ("up", "both"):
            return 1
        if value < low and spec.direction in ("down", "both"):
            return -1
        return 0

    onset_index = _first_run(after, side, spec.min_run)
    if onset_index is None:
        return None
    sign = side(after[onset_index][1])
    later = after[onset_index:]
    peak_at, peak = max(later, key=lambda p: sign * (p[1] - centre))
    excursion = abs(peak - centre) / half_width
    outside = sum(1 for _, v in later if side(v) == sign)
    step = outside / len(later) >= spec.step_share and side(later[-1][1]) == sign
    magnitude = magnitude_from_excursion(excursion) * (1.0 if step else 0.8)
    onset = after[onset_index][0]
    return Change(
        onset=onset,
        direction="up" if sign > 0 else "down",
        baseline_median=centre,
        band=(low, high),
        baseline_points=len(before),
        baseline_source=source,
        peak=peak,
        peak_at=peak_at,
        last=clean[-1][1],
        excursion=excursion,
        step_change=step,
        magnitude=round(magnitude, 4),
        excerpt=excerpt(clean, onset),
    )


def change_point(points: Sequence[tuple[float, float]], *, min_left: int, min_right: int) -> int | None:
    """The split index that best explains ``points`` as two flat levels (least squares), or None.

    O(n) with prefix sums. A series too short to leave ``min_left`` and ``min_right`` points
    on the two sides has no split.
    """
    n = len(points)
    if n < min_left + min_right:
        return None
    values = [v for _, v in points]
    prefix, prefix_sq = [0.0], [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
        prefix_sq.append(prefix_sq[-1] + v * v)

    def sse(i: int, j: int) -> float:
        total, squares, count = prefix[j] - prefix[i], prefix_sq[j] - prefix_sq[i], j - i
        return squares - total * total / count

    return min(range(min_left, n - min_right + 1), key=lambda k: (sse(0, k) + sse(k, n), k))


def _first_run(points: list[tuple[float, float]], side: Any, min_run: int) -> int | None:
    run_start, run_side, run_length = 0, 0, 0
    for index, (_, value) in enumerate(points):
        current = side(value)
        if current != 0 and current == run_side:
            run_length += 1
        elif current != 0:
            run_start, run_side, run_length = index, current, 1
        else:
            run_side, run_length = 0, 0
        if run_length >= min_run:
            return run_start
    return None


def excerpt(points: Sequence[tuple[float, float]], onset: float, limit: int = EXCERPT_POINTS) -> list[list[float]]:
    """Up to ``limit`` points around the onset: a third before it, the rest after, evenly thinned."""
    if not points:
        return []
    at = next((i for i, p in enumerate(points) if p[0] >= onset), len(points) - 1)
    before, after = points[:at], points[at:]
    keep_before = min(len(before), limit // 3)
    chosen = _thin(before, keep_before) + _thin(after, limit - keep_before)
    return [[t, _round(v)] for t, v in chosen]


def _thin(points: Sequence[tuple[float, float]], count: int) -> list[tuple[float, float]]:
    if count <= 0 or not points:
        return []
    if len(points) <= count:
        return list(points)
    if count == 1:
        return [points[-1]]
    step = (len(points) - 1) / (count - 1)
    return [points[round(i * step)] for i in range(count)]


def _round(value: float) -> float:
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.4g}")


def describe(spec: SignalSpec, value: float) -> str:
    """A value as a person reads it in this signal's unit."""
    if spec.unit == "ratio":
        return f"{value * 100:.1f}%"
    if spec.unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if spec.unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if spec.unit == "req/s":
        return f"{value:.1f} req/s"
    if spec.unit == "cores":
        return f"{value:.2f} cores"
    return f"{value:.4g}"


def finding_from_series(
    *,
    service: str,
    signal: str,
    points: Sequence[tuple[float, float]],
    baseline_end: float,
    kind: str = "metrics",
    spec: SignalSpec | None = None,
    source: str = "",
    key: str = "",
    subject: str = "",
    evidence: Mapping[str, Any] | None = None,
) -> Finding | None:
    """A ``Finding`` for one series that moved, or None: what the benchmark and collectors call.

    ``subject`` names what moved when it is finer than the service (a span name).
    """
    spec = spec or SIGNALS.get(signal) or GENERIC
    change = detect_change(points, baseline_end=baseline_end, spec=spec)
    if change is None:
        return None
    what = f"{spec.label} of {service}" + (f" ({subject})" if subject else "")
    verb = "rose" if change.direction == "up" else "fell"
    kind_of_change = "step change" if change.step_change else "spike"
    before, peak = describe(spec, change.baseline_median), describe(spec, change.peak)
    title = f"{what[:1].upper()}{what[1:]} {verb} from {before} to {peak}"
    young = ", taken from the start of a young series" if change.baseline_source == "leading" else ""
    detail = (
        f"A {kind_of_change}: {change.excursion:.1f}× the normal band's half-width, "
        f"baseline {before} (band {describe(spec, change.band[0])} to {describe(spec, change.band[1])}, "
        f"{change.baseline_points} points{young}); now {describe(spec, change.last)}."
    )
    return Finding(
        service=service,
        kind=kind,
        signal=signal,
        key=key or f"{kind}:{service}:{signal}" + (f":{subject}" if subject else ""),
        onset=change.onset,
        magnitude=change.magnitude,
        specificity=spec.specificity,
        source=source,
        title=title,
        detail=detail,
        evidence={**(evidence or {}), **change.as_evidence()},
        magnitude_why=f"{change.excursion:.1f}× the normal band's half-width, {kind_of_change}",
    )
