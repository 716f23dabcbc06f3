"""Anomaly rules: is the latest value unusual for this series?

Method
------
Each point is scored against the points before it, never after, so the same code serves a
detection rule (a range query, score the last point) and a benchmark that streams a series
point by point (NAB).

1. **Robust z-score against a baseline window.** The baseline is the last ``window`` finite
   values. Its centre is the median and its spread the median absolute deviation (MAD), scaled
   by 1.4826 so it estimates a standard deviation for normal data. Unlike mean and standard
   deviation, neither moves much when the window itself holds a few outliers, so one incident
   does not hide the next. ``z = (x - median) / scale`` is the modified z-score of Iglewicz and
   Hoaglin; ``|z| >= 3.5`` is their classic cut-off and the default ``z_threshold``.

   When more than half the window is one value the MAD is 0 (an idle error counter, a flat
   gauge). The scale then falls back to 1.2533 × the mean absolute deviation, and never goes
   below ``relative_floor`` × |median| nor ``min_scale``: a perfectly flat series that moves by
   less than 1 % of its level is not news, while one that leaves zero is.

2. **Seasonal comparison**, where the history allows. With ``season_seconds`` set (default one
   day), values are averaged into ``season_buckets`` slots per period. Once a slot from exactly
   one period earlier exists, the seasonal difference ``d = x - value one period ago`` is scored
   with the same robust z against the window of recent differences. A Monday-morning peak is
   then unusual against the last hours but ordinary against yesterday, so the two scores are
   combined conservatively: if they disagree in direction the point is ordinary, otherwise the
   smaller magnitude wins.

3. **Score.** ``score = z² / (z² + z_threshold²)`` maps |z| monotonically into [0, 1), with 0.5
   exactly at the threshold; ±Inf values score 1 and NaN (no data) scores 0. Until
   ``min_points`` baseline values exist the score is 0: there is nothing to compare against.

Cost and memory per series: a deque and a sorted list of ``window`` values (insertion and
eviction are O(window) memmoves, median O(1), MAD O(log window) by selecting the middle of two
sorted runs of deviations), plus ``season_buckets`` slots. Nothing grows with the length of the
stream.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from detection.evaluators.base import Breach
from detection.sources.base import Series

Direction = Literal["both", "up", "down"]
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533


@dataclass(frozen=True)
class AnomalyConfig:
    window: int = 120
    min_points: int = 30
    z_threshold: float = 3.5
    direction: Direction = "both"
    season_seconds: float | None = 86_400.0
    season_buckets: int = 288
    relative_floor: float = 0.01
    min_scale: float = 1e-9

    def __post_init__(self) -> None:
        if self.min_points < 3:
            raise ValueError("min_points must be at least 3")
        if self.window < self.min_points:
            raise ValueError("window must hold at least min_points values")
        if not self.z_threshold > 0:
            raise ValueError("z_threshold must be positive")
        if self.direction not in ("both", "up", "down"):
            raise ValueError("direction must be 'both', 'up' or 'down'")
        if self.season_seconds is not None and (self.season_seconds <= 0 or self.season_buckets < 1):
            raise ValueError("season_seconds must be positive and season_buckets at least 1")
        if self.relative_floor < 0 or self.min_scale <= 0:
            raise ValueError("relative_floor must be >= 0 and min_scale > 0")


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    score: float
    z: float | None
    plain_z: float | None
    seasonal_z: float | None
    median: float | None
    scale: float | None

    @property
    def ready(self) -> bool:
        return self.z is not None


class AnomalyDetector:
    """Streaming scorer for one series. Feed points in time order; no look-ahead."""

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self.config = config or AnomalyConfig()
        self._values = _RobustWindow(self.config.window)
        self._diffs = _RobustWindow(self.config.window)
        self._season = (
            _SeasonalProfile(self.config.season_seconds, self.config.season_buckets)
            if self.config.season_seconds
            else None
        )

    @property
    def baseline_size(self) -> int:
        """How many values the baseline holds now (at most ``config.window``)."""
        return len(self._values)

    def update(self, timestamp: float, value: float) -> float:
        """Score ``value`` against the past, then remember it. Returns a score in [0, 1]."""
        return self.observe(timestamp, value).score

    def observe(self, timestamp: float, value: float) -> AnomalyResult:
        """Like ``update``, with the numbers behind the score."""
        cfg = self.config
        if math.isnan(value):
            return _NOT_READY
        if math.isinf(value):
            if len(self._values) < cfg.min_points:
                return _NOT_READY
            z = math.copysign(math.inf, value)
            return AnomalyResult(_score(z, cfg), z, z, None, self._values.median(), None)

        plain = self._robust_z(self._values, value, level=None)
        seasonal_z = None
        reference = self._season.observe(timestamp, value) if self._season else None
        if reference is not None:
            diff = value - reference
            seasonal = self._robust_z(self._diffs, diff, level=plain[1] if plain else None)
            seasonal_z = seasonal[0] if seasonal else None
            self._diffs.push(diff)
        self._values.push(value)

        if plain is None:
            return _NOT_READY
        plain_z, median, scale = plain
        z = _combine(plain_z, seasonal_z)
        return AnomalyResult(_score(z, cfg), z, plain_z, seasonal_z, median, scale)

    def _robust_z(self, window: _RobustWindow, x: float, *, level: float | None) -> tuple[float, float, float] | None:
        """(z, median, scale) of ``x`` against ``window``; None until the window is warm.

        ``level`` is the series' own median, so a window of differences (centred near zero)
        still gets a floor proportional to the size of the series.
        """
        cfg = self.config
        if len(window) < cfg.min_points:
            return None
        median = window.median()
        mad = window.mad(median)
        scale = MAD_TO_SIGMA * mad
        if scale == 0:
            scale = MEAN_AD_TO_SIGMA * window.mean_abs_dev(median)
        base = median if level is None else level
        scale = max(scale, cfg.relative_floor * abs(base), cfg.min_scale)
        return (x - median) / scale, median, scale


def score_series(points: Iterable[tuple[float, float]], config: AnomalyConfig | None = None) -> list[float]:
    """Stream ``points`` through a fresh detector; one score per point (the benchmark path)."""
    detector = AnomalyDetector(config)
    return [detector.update(t, v) for t, v in points]


def evaluate_anomaly(series_list: Iterable[Series], config: AnomalyConfig | None = None) -> list[Breach]:
    """One ``Breach`` per series whose latest point scores at or over 0.5 (|z| >= z_threshold).

    The whole series is replayed through ``AnomalyDetector`` so a rule and the benchmark score
    identically; for the seasonal comparison to apply, the range must reach one
    ``season_seconds`` plus ``min_points`` steps back.
    """
    cfg = config or AnomalyConfig()
    breaches = []
    for series in series_list:
        if not series.points:
            continue
        detector = AnomalyDetector(cfg)
        result = _NOT_READY
        for t, v in sorted(series.points):
            result = detector.observe(t, v)
        t_last, v_last = max(series.points)
        if result.z is None or result.score < 0.5:
            continue
        details: dict[str, float | str] = {"z": result.z}
        if result.median is not None:
            details["median"] = result.median
        if result.scale is not None:
            details["scale"] = result.scale
        if result.seasonal_z is not None:
            details["seasonal_z"] = result.seasonal_z
        breaches.append(
            Breach(
                labels=dict(series.labels),
                value=v_last,
                timestamp=t_last,
                score=result.score,
                reason=f"value {v_last:g} is {abs(result.z):.1f} robust deviations from usual",
                details=details,
            )
        )
    return breaches


_NOT_READY = AnomalyResult(0.0, None, None, None, None, None)


def _combine(plain_z: float, seasonal_z: float | None) -> float:
    if seasonal_z is None:
        return plain_z
    if plain_z * seasonal_z <= 0:
        return 0.0
    return plain_z if abs(plain_z) <= abs(seasonal_z) else seasonal_z


def _score(z: float, cfg: AnomalyConfig) -> float:
    if cfg.direction == "up":
        z = max(z, 0.0)
    elif cfg.direction == "down":
        z = min(z, 0.0)
    if z == 0:
        return 0.0
    # Written as 1 / (1 + (t/z)²) so a huge z cannot overflow z² into inf/inf = NaN.
    ratio = cfg.z_threshold / z
    return 1.0 / (1.0 + ratio * ratio)


class _RobustWindow:
    """The last ``size`` values, in arrival order and sorted, for O(1) median and O(log n) MAD."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._order)

    def push(self, x: float) -> None:
        if len(self._order) == self.size:
            old = self._order.popleft()
            del self._sorted[bisect_left(self._sorted, old)]
        self._order.append(x)
        insort(self._sorted, x)

    def median(self) -> float:
        s, n = self._sorted, len(self._sorted)
        mid = n // 2
        return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2

    def mad(self, median: float) -> float:
        # Deviations below the median, read right to left, and above it, read left to right,
        # are two ascending runs; their middle element is the MAD without sorting anything.
        s, n = self._sorted, len(self._sorted)
        p = bisect_left(s, median)

        def below(i: int) -> float:
            return median - s[p - 1 - i]

        def above(j: int) -> float:
            return s[p + j] - median

        if n % 2:
            return _kth_of_two(below, p, above, n - p, n // 2)
        return (_kth_of_two(below, p, above, n - p, n // 2 - 1) + _kth_of_two(below, p, above, n - p, n // 2)) / 2

    def mean_abs_dev(self, median: float) -> float:
        return sum(abs(x - median) for x in self._sorted) / len(self._sorted)


def _kth_of_two(a: Callable[[int], float], la: int, b: Callable[[int], float], lb: int, k: int) -> float:
    """The k-th smallest (0-based) of two ascending sequences given by index functions."""
    lo, hi = max(0, k + 1 - lb), min(k + 1, la)
    while lo <= hi:
        i = (lo + hi) // 2  # taken from a; the rest, j, from b
        j = k + 1 - i
        if i < la and j > 0 and b(j - 1) > a(i):
            lo = i + 1
        elif i > 0 and j < lb and a(i - 1) > b(j):
            hi = i - 1
        else:
            return max(a(i - 1) if i > 0 else -math.inf, b(j - 1) if j > 0 else -math.inf)
    raise AssertionError("k is out of range")  # unreachable for 0 <= k < la + lb


class _SeasonalProfile:
    """Mean value per time-of-period slot, one period deep: what this slot looked like last time."""

    def __init__(self, season_seconds: float, buckets: int) -> None:
        self.width = season_seconds / buckets
        self.buckets = buckets
        self._bucket_id: list[int | None] = [None] * buckets
        self._sum = [0.0] * buckets
        self._count = [0] * buckets
        self._current: int | None = None
        self._reference: float | None = None

    def observe(self, timestamp: float, value: float) -> float | None:
        """The mean one period before ``timestamp``'s slot, then record ``value`` in its slot."""
        bucket = math.floor(timestamp / self.width)
        if self._current is not None and bucket < self._current:
            return None  # out of order: never rewrite a slot the future has already read
        slot = bucket % self.buckets
        if bucket != self._current:
            # Read last period's slot once, before this period starts overwriting it.
            previous = self._bucket_id[slot]
            self._reference = self._sum[slot] / self._count[slot] if previous == bucket - self.buckets else None
            self._bucket_id[slot], self._sum[slot], self._count[slot] = bucket, 0.0, 0
            self._current = bucket
        self._sum[slot] += value
        self._count[slot] += 1
        return self._reference
