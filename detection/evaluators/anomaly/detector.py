"""Anomaly rules: is the latest value news for this series?

Method
------
Each point is scored against the points before it, never after, so the same code serves a
detection rule (score the newest point of a range query) and a benchmark that streams a series
point by point (NAB). Three detectors look at every point; each gives a ratio ``r`` that reaches
1 exactly where that detector alerts. The point's ratio is the largest of the three and its score
``r / (1 + r)``: 0.5 at the alerting line, towards 1 the further past it.

1. **Range novelty** (level shifts, record spikes and dips). The detector keeps the lowest and
   highest value the series has had, and the same for the mean of the last ``smooth_points``
   values. A value (or mean) beyond that range is news in proportion to how far beyond:
   ``r = excess / (margin × range)``, so by default a new extreme 5 % of the known range past the
   old one alerts. The raw value catches a spike on its first point; the mean catches a sustained
   shift or drift whose single points are not extreme. A steady trend stays quiet (each step
   extends the range by less than the margin). Noise quietens as the range fills in: the last of
   n noise values is their largest one time in n, so records are cheap in a short history, and
   with n values behind the range the margin is ``novelty_margin × (1 + novelty_history / n)``,
   2.7× wider after 60 values, 1.1× after 1,000; the means' range waits for ``min_points`` means,
   as neighbouring means share most of their values. A history whose whole range is under the
   floor (``relative_floor`` × the median) counts as flat: then a move of the floor is news.
   Extremes fade towards the median with a time constant of ``memory_points`` points, so one old
   incident does not blind the detector for good.

2. **Seasonal record** (the wrong value for the time of day). With ``season_seconds`` set
   (default one day), values are averaged into ``season_buckets`` slots per period, one period
   deep, and ``d = x - (this slot one period ago)`` is divided by a running estimate of its usual
   size (an exponentially weighted mean absolute value over about ``window`` differences, each
   update clipped at 5 scales so one outlier cannot inflate it): ``seasonal_z``. Once
   ``season_min_points`` differences have been scored, a point alerts when ``|seasonal_z|`` exceeds
   ``record_factor`` times the largest seen before, "twice as far from yesterday as ever". Being
   relative to the series' own record it needs no per-series threshold, and stays quiet on series
   whose seasonal differences are always wild.

3. **Change activity** (a series that starts to behave differently without leaving its range:
   oscillation, a burst of spikes, a changed pattern). Each change ``Δ = x - previous value``
   gets a robust z against the last ``window`` changes (median and MAD, floored as above) and a
   surprise ``s = z² / (z² + z_threshold²)`` in [0, 1), one half for a change of ``z_threshold``
   robust deviations. The mean of the last ``activity_points`` surprises is compared with the
   history of that mean, an exponentially weighted mean and variance over about
   ``activity_memory`` points; the point alerts when the Gaussian tail probability of the current
   mean falls to ``activity_tail``: ``r = log(tail) / log(activity_tail)``. This is the idea of
   Numenta's "anomaly likelihood" (the recent average of raw surprises against their long-term
   distribution), written from its description.

**Rest.** An alert is news once: for ``rest_points`` points after a point scores 0.5 or more,
scores are 0 while every statistic keeps learning, so one incident is one alert rather than one
per point of its duration; only a point four times further past the line than that alert (a
bigger incident) breaks the rest. (A rule that wants the breach to last should use the alert's
keep-firing time; a pending time longer than one evaluation would never see it fire.)

**Warm-up, gaps, direction.** Until ``min_points`` finite values have been seen the score is 0.
NaN (no data) scores 0 and changes nothing; ±Inf, and magnitudes over 1e150 (which would overflow
the running sums), score 1 once warm and are not learned. With ``direction`` "up" (or "down")
only news on that side counts: a new high, a positive seasonal difference, activity while above
the median. ``AnomalyResult.z`` is still the modified z-score of the value against the median and
MAD of the last ``window`` values; it explains a breach but no longer decides it (on NAB a
robust-z cut alone scores 2.4 of 100: real metrics are too heavy-tailed for any fixed |z|).

Parameters
----------
One set of defaults for every series, chosen by grid search on the NAB v1.1 development subset
that ``bench/nab.py`` scores (41 series, 64 windows). The structure and the values are fitted to
that subset, so its figures are in-sample: standard 81.0, reward-low-FP 76.1, reward-low-FN 84.7
with NAB's threshold sweep; 80.8 / 75.7 / 84.6 at the rules' fixed 0.5. Holding out one NAB
category at a time and re-tuning five of the parameters on the other four gives 76.1 / 70.8 /
79.9 at 0.5, the better guide to unseen data. Nothing in the method knows NAB's probation:
warm-ups are in points (``min_points``, the wider early range margin, ``season_min_points``).
That operating point accepts about one false alert per 2,000 points of real data (61 outside
the windows of the subset's 117,000 scored points) and, on pure noise, one per 500 to 900 points
once a thousand have been seen: fine for one series, a lot across thousands. Raise
``novelty_margin`` or ``record_factor``, or lower ``activity_tail``, for a quieter rule.

Cost and memory per series: two sorted windows of ``window`` floats (values and changes; insert
and evict are memmoves, median O(1), MAD O(log window)), ``season_buckets`` slot means and a few
dozen scalars in flat arrays: about 11 KiB and 5 µs a point in CPython; nothing grows with the
stream. A rule keeps each series' detector between evaluations (see ``evaluate_anomaly``).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Direction = Literal["both", "up", "down"]
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
# An exponentially weighted update is clipped at this many scales (a Huber-type M-estimate), so a
# single outlier moves the scale by a bounded amount instead of inflating it for a whole window.
_CLIP_SCALES = 5.0
_SQRT2 = math.sqrt(2.0)
# The smallest tail probability worth telling apart; erfc underflows to 0 a little past this.
_MIN_TAIL = 1e-300
# Surprises lie in [0, 1); a history that never varied (a flat series) still gets this spread of
# their mean. With the defaults, one change of a floor (z = 1) then stays quiet and one change of
# z_threshold robust deviations alerts.
_MIN_ACTIVITY_SD = 2e-3
# A robust scale is trusted once it rests on this many values (fewer if min_points is lower).
_SCALE_POINTS = 30
# During a rest, a point this many times further past the line than the alert that started it is
# a different, bigger incident, and news again.
_BREAKTHROUGH = 4.0
# Values beyond this magnitude are treated like ±Inf: their differences, sums and squares would
# overflow double precision and poison the running statistics with Inf - Inf = NaN.
_HUGE = 1e150


@dataclass(frozen=True)
class AnomalyConfig:
    # Values and changes the robust statistics look back over.
    window: int = 120
    # Finite values seen before anything scores above 0.
    min_points: int = 60
    # |z| of one change at which its surprise is one half (the activity detector's unit), and
    # the |z| quoted as "unusual" in explanations.
    z_threshold: float = 3.5
    direction: Direction = "both"
    # The seasonal period; None turns the seasonal record off.
    season_seconds: float | None = 86_400.0
    season_buckets: int = 288
    # Scales never go below relative_floor × |median| nor min_scale: a flat series that moves by
    # less than 1 % of its level is not news, one that leaves zero is.
    relative_floor: float = 0.01
    min_scale: float = 1e-9
    # Range novelty: the mean over smooth_points values also has a range; novelty_margin is the
    # excess, as a fraction of the known range, at which a new extreme alerts. A record is cheap
    # in a short history, so over n values the margin is (1 + novelty_history / n) times wider.
    smooth_points: int = 24
    novelty_margin: float = 0.05
    novelty_history: int = 100
    # Seasonal record: alerts past record_factor × the largest |seasonal z| seen before, once
    # season_min_points seasonal differences have been seen.
    season_min_points: int = 100
    record_factor: float = 2.0
    # Change activity: surprises averaged over activity_points, compared with about
    # activity_memory points of history; alerts at a tail probability of activity_tail.
    activity_points: int = 40
    activity_memory: int = 1000
    activity_tail: float = 1e-3
    # Points kept quiet after an alert.
    rest_points: int = 24
    # Extremes and the seasonal record fade with this time constant (points); None: never.
    memory_points: int | None = 50_000

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
        if self.smooth_points < 1 or not self.novelty_margin > 0 or self.novelty_history < 0:
            raise ValueError("smooth_points must be at least 1, novelty_margin positive, novelty_history >= 0")
        if self.season_min_points < 1 or not self.record_factor > 0:
            raise ValueError("season_min_points must be at least 1 and record_factor positive")
        if self.activity_points < 1 or self.activity_memory < 1 or not 0 < self.activity_tail < 1:
            raise ValueError("activity_points and activity_memory must be at least 1, activity_tail in (0, 1)")
        if self.rest_points < 0:
            raise ValueError("rest_points must be >= 0")
        if self.memory_points is not None and self.memory_points < 1:
            raise ValueError("memory_points must be at least 1, or None to never forget")


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    score: float
    # The modified z-score of the value against the median and MAD of the last ``window``
    # values (explanations and compatibility); plain_z is the same number.
    z: float | None
    plain_z: float | None
    seasonal_z: float | None
    median: float | None
    scale: float | None
    # Which detector set the score ("range", "mean range", "season", "activity", "infinite"),
    # None when no detector is near its line (ratio under 0.5) or the point is resting.
    cause: str | None = None
    # The point's ratio before the rest period: 1.0 is the alerting line.
    ratio: float = 0.0

    @property
    def ready(self) -> bool:
        return self.z is not None


class AnomalyDetector:
    """Streaming scorer for one series. Feed points in time order; no look-ahead."""

    __slots__ = (
        "config",
        "_values",
        "_changes",
        "_seen",
        "_previous",
        "_low",
        "_high",
        "_smooth",
        "_smooth_head",
        "_smooth_total",
        "_smooth_full",
        "_smooth_low",
        "_smooth_high",
        "_season",
        "_season_mad",
        "_season_n",
        "_season_record",
        "_surprise",
        "_surprise_head",
        "_surprise_total",
        "_threshold2",
        "_activity_mean",
        "_activity_var",
        "_activity_n",
        "_rest",
        "_rest_ratio",
        "_baseline_points",
        "_season_from",
        "_activity_from",
        "_log_tail",
        "_forget",
    )

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        cfg = self.config = config or AnomalyConfig()
        self._values = _SortedWindow(cfg.window)
        self._changes = _SortedWindow(cfg.window)
        self._seen = 0  # finite values learned
        self._previous = math.nan
        # Range novelty: extremes of the values and of the smoothed values.
        self._low = math.inf
        self._high = -math.inf
        # The last smooth_points values in a ring (zeros until full) and their sum.
        self._smooth = array("d", bytes(8 * cfg.smooth_points))
        self._smooth_head = 0
        self._smooth_total = 0.0
        self._smooth_full = False
        self._smooth_low = math.inf
        self._smooth_high = -math.inf
        # Seasonal record.
        self._season = _SeasonalProfile(cfg.season_seconds, cfg.season_buckets) if cfg.season_seconds else None
        self._season_mad = 0.0
        self._season_n = 0
        self._season_record = 0.0
        # Change activity.
        self._surprise = array("d", bytes(8 * cfg.activity_points))
        self._surprise_head = 0
        self._surprise_total = 0.0
        self._threshold2 = cfg.z_threshold * cfg.z_threshold
        self._activity_mean = 0.0
        self._activity_var = 0.0
        self._activity_n = 0
        # Points still to keep quiet, and the ratio of the alert that started the rest.
        self._rest = 0
        self._rest_ratio = 0.0
        # Scales are trusted once they rest on this many values.
        self._baseline_points = min(_SCALE_POINTS, cfg.min_points)
        self._season_from = self._baseline_points + cfg.season_min_points
        # The activity likelihood speaks once its history spans a few averaging spans.
        self._activity_from = 2 * cfg.activity_points
        self._log_tail = math.log10(cfg.activity_tail)
        self._forget = 1.0 / cfg.memory_points if cfg.memory_points else 0.0

    @property
    def baseline_size(self) -> int:
        """How many values the baseline holds now (at most ``config.window``)."""
        return len(self._values)

    def update(self, timestamp: float, value: float) -> float:
        """Score ``value`` against the past, then remember it. Returns a score in [0, 1]."""
        if value != value:  # NaN: no data
            return 0.0
        if value > _HUGE or value < -_HUGE:
            return self._infinite(value)[0]
        return self._step(timestamp, value)[0]

    def observe(self, timestamp: float, value: float) -> AnomalyResult:
        """Like ``update``, with the numbers behind the score."""
        if value != value:
            return _NOT_READY
        huge = value > _HUGE or value < -_HUGE
        if self._seen < self.config.min_points:
            if not huge:
                self._step(timestamp, value)
            return _NOT_READY
        # The explanation is computed before the value joins the window it is compared with.
        median = self._values.median()
        scale = self._scale(self._values, median, median)
        z = (value - median) / scale if math.isfinite(value) else math.copysign(math.inf, value)
        if huge:
            score, cause = self._infinite(value)
            return AnomalyResult(score, z, z, None, median, scale, cause, math.inf if score else 0.0)
        score, ratio, cause, seasonal_z = self._step(timestamp, value)
        return AnomalyResult(score, z, z, seasonal_z, median, scale, cause, ratio)

    # -- internals -----------------------------------------------------------------------------

    def _infinite(self, value: float) -> tuple[float, str | None]:
        direction = self.config.direction
        if (
            self._seen < self.config.min_points
            or (direction == "up" and value < 0)
            or (direction == "down" and value > 0)
        ):
            return 0.0, None
        return 1.0, "infinite"

    def _scale(self, window: _SortedWindow, centre: float, level: float) -> float:
        """Robust spread of ``window`` around ``centre``, floored relative to ``level``."""
        cfg = self.config
        scale = MAD_TO_SIGMA * window.mad(centre)
        if scale == 0:
            # More than half the window is one value (an idle counter, a step series).
            scale = MEAN_AD_TO_SIGMA * window.mean_abs_dev(centre)
        return max(scale, cfg.relative_floor * abs(level), cfg.min_scale)

    def _step(self, timestamp: float, x: float) -> tuple[float, float, str | None, float | None]:
        """Score a finite value, learn it; (score, ratio, cause, seasonal_z).

        One long method on purpose: it runs for every point of every series, and in CPython
        calls and attribute lookups are most of the cost.
        """
        cfg = self.config
        seen = self._seen
        ready = seen >= cfg.min_points
        values = self._values
        level = values.median() if seen else x
        floor = cfg.relative_floor * abs(level)
        if floor < cfg.min_scale:
            floor = cfg.min_scale
        direction = cfg.direction
        up = direction != "down"
        down = direction != "up"
        ratio, cause = 0.0, None

        # 1. Range novelty, of the value and of the mean of the last smooth_points values.
        low, high = self._low, self._high
        if ready:
            excess = x - high if up else -math.inf
            if down and low - x > excess:
                excess = low - x
            if excess > 0:
                # A history whose whole range is under the floor counts as flat: then a move
                # of the floor (1 % of the level) is news, not 5 % of a range of rounding noise.
                span = high - low
                margin = cfg.novelty_margin * (1.0 + cfg.novelty_history / seen)
                ratio, cause = excess / (span * margin if span >= floor else floor), "range"
        forget = self._forget
        if forget and seen:
            # Old extremes fade towards the level, so one incident does not blind this forever.
            low += (level - low) * forget
            high += (level - high) * forget
        self._low = x if x < low else low
        self._high = x if x > high else high
        smooth = self._smooth
        head = self._smooth_head
        total = self._smooth_total + x - smooth[head]  # the slot holds 0.0 until the ring is full
        smooth[head] = x
        head += 1
        if head == len(smooth):
            head, self._smooth_full = 0, True
        self._smooth_head, self._smooth_total = head, total
        if self._smooth_full:
            mean = total / len(smooth)
            low, high = self._smooth_low, self._smooth_high
            means = seen + 1 - len(smooth)  # means before this one
            if means >= cfg.min_points and high >= low:
                excess = mean - high if up else -math.inf
                if down and low - mean > excess:
                    excess = low - mean
                if excess > 0:
                    span = high - low
                    margin = cfg.novelty_margin * (1.0 + cfg.novelty_history / means)
                    r = excess / (span * margin if span >= floor else floor)
                    if r > ratio:
                        ratio, cause = r, "mean range"
            if forget and high >= low:
                low += (level - low) * forget
                high += (level - high) * forget
            self._smooth_low = mean if mean < low else low
            self._smooth_high = mean if mean > high else high

        # 2. Seasonal record.
        seasonal_z = None
        season = self._season
        reference = season.observe(timestamp, x) if season is not None else None
        if reference is not None:
            d = x - reference
            n = self._season_n
            spread = MEAN_AD_TO_SIGMA * self._season_mad
            if spread < floor:
                spread = floor
            if n >= self._baseline_points:
                seasonal_z = d / spread
                size = abs(seasonal_z)
                record = self._season_record
                if ready and record > 0 and n >= self._season_from and ((up and d > 0) or (down and d < 0)):
                    r = size / (cfg.record_factor * record)
                    if r > ratio:
                        ratio, cause = r, "season"
                self._season_record = size if size > record else record * (1.0 - forget)
            n += 1
            self._season_n = n
            if n > 10:
                limit = _CLIP_SCALES * spread
                d = limit if d > limit else -limit if d < -limit else d
            self._season_mad += (abs(d) - self._season_mad) / (n if n < cfg.window else cfg.window)

        # 3. Change activity.
        if seen:
            change = x - self._previous
            changes = self._changes
            if len(changes) >= self._baseline_points:
                centre = changes.median()
                scale = MAD_TO_SIGMA * changes.mad(centre)
                if scale == 0:
                    scale = MEAN_AD_TO_SIGMA * changes.mean_abs_dev(centre)
                if scale < floor:
                    scale = floor
                z = (change - centre) / scale
                z2 = z * z
                surprise = 1.0 - self._threshold2 / (z2 + self._threshold2)  # z² / (z² + t²), inf-safe
                ring = self._surprise
                head = self._surprise_head
                total = self._surprise_total + surprise - ring[head]
                ring[head] = surprise
                head += 1
                if head == len(ring):
                    head = 0
                self._surprise_head, self._surprise_total = head, total
                n = self._activity_n = self._activity_n + 1
                mean = total / (n if n < len(ring) else len(ring))
                if ready and n > self._activity_from and (up == down or (up and x > level) or (down and x < level)):
                    sd = math.sqrt(self._activity_var)
                    if sd < _MIN_ACTIVITY_SD:
                        sd = _MIN_ACTIVITY_SD
                    tail = 0.5 * math.erfc((mean - self._activity_mean) / (sd * _SQRT2))
                    r = math.log10(tail if tail > _MIN_TAIL else _MIN_TAIL) / self._log_tail
                    if r > ratio:
                        ratio, cause = r, "activity"
                # Exponentially weighted mean and variance (West's incremental form).
                a = 1.0 / (n if n < cfg.activity_memory else cfg.activity_memory)
                delta = mean - self._activity_mean
                self._activity_mean += a * delta
                self._activity_var = (1.0 - a) * (self._activity_var + a * delta * delta)
            changes.push(change)

        values.push(x)
        self._previous = x
        self._seen = seen + 1

        if self._rest and ratio <= _BREAKTHROUGH * self._rest_ratio:
            self._rest -= 1
            return 0.0, ratio, None, seasonal_z
        if ratio >= 1.0:
            self._rest = cfg.rest_points
            self._rest_ratio = ratio
        elif ratio < 0.5:
            cause = None
        # r / (1 + r), written so that an infinite ratio still gives 1.
        return (1.0 - 1.0 / (1.0 + ratio) if ratio > 0 else 0.0), ratio, cause, seasonal_z



_NOT_READY = AnomalyResult(0.0, None, None, None, None, None)


class _SortedWindow:
    """The last ``size`` values, in arrival order and sorted: O(1) median, O(log n) MAD."""

    __slots__ = ("size", "_order", "_sorted", "_head")

    def __init__(self, size: int) -> None:
        self.size = size
        self._order = array("d")
        self._sorted = array("d")
        self._head = 0

    def __len__(self) -> int:
        return len(self._sorted)

    def push(self, x: float) -> None:
        s = self._sorted
        if len(s) == self.size:
            head = self._head
            del s[bisect_left(s, self._order[head])]
            self._order[head] = x
            self._head = head + 1 if head + 1 < self.size else 0
        else:
            self._order.append(x)
        insort(s, x)

    def median(self) -> float:
        s = self._sorted
        n = len(s)
        mid = n // 2
        return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2

    def mad(self, centre: float) -> float:
        """Median absolute deviation from ``centre`` (the median), without sorting anything.

        Deviations below the centre, read right to left, and above it, read left to right, are
        two ascending runs; a binary search finds how many of the smallest k+1 come from each.
        """
        s = self._sorted
        n = len(s)
        if n == 0:
            return 0.0
        p = bisect_left(s, centre)
        below, above = p, n - p  # deviation i below: centre - s[p-1-i]; j above: s[p+j] - centre
        k = n // 2  # 0-based rank of the upper middle deviation
        lo, hi = max(0, k + 1 - above), min(k + 1, below)
        while True:
            i = (lo + hi) // 2  # taken from below; j = k + 1 - i from above
            j = k + 1 - i
            if i < below and j > 0 and s[p + j - 1] - centre > centre - s[p - 1 - i]:
                lo = i + 1
            elif i > 0 and j < above and centre - s[p - i] > s[p + j] - centre:
                hi = i - 1
            else:
                break
        # The k+1 smallest deviations are below[0:i] and above[0:j]; the largest is the k-th.
        b1 = centre - s[p - i] if i > 0 else -math.inf
        a1 = s[p + j - 1] - centre if j > 0 else -math.inf
        upper = b1 if b1 > a1 else a1
        if n % 2:
            return upper
        # Even n: the lower middle is the second largest of the k+1 taken.
        lower = min(b1, a1)
        if i > 1:
            lower = max(lower, centre - s[p - i + 1])
        if j > 1:
            lower = max(lower, s[p + j - 2] - centre)
        return (lower + upper) / 2

    def mean_abs_dev(self, centre: float) -> float:
        s = self._sorted
        n = len(s)
        if n == 0:
            return 0.0
        p = bisect_left(s, centre)
        return (sum(s[p:]) - (n - p) * centre + p * centre - sum(s[:p])) / n


class _SeasonalProfile:
    """Mean value per time-of-period slot, one period deep: what this slot looked like last time."""

    __slots__ = ("width", "buckets", "_period", "_mean", "_current", "_sum", "_count", "_reference")

    def __init__(self, season_seconds: float, buckets: int) -> None:
        self.width = season_seconds / buckets
        self.buckets = buckets
        # Per slot: the bucket (absolute slot number) its mean belongs to, and that mean.
        self._period = array("d", [-1.0]) * buckets
        self._mean = array("d", bytes(8 * buckets))
        self._current: int | None = None
        self._sum = 0.0
        self._count = 0
        self._reference: float | None = None

    def observe(self, timestamp: float, value: float) -> float | None:
        """The mean one period before ``timestamp``'s slot, then record ``value`` in its slot."""
        bucket = math.floor(timestamp / self.width)
        current = self._current
        if current is not None and bucket < current:
            return None  # out of order: never rewrite a slot the future has already read
        if bucket != current:
            if current is not None:
                # The finished bucket becomes its slot's mean, for the same slot next period.
                slot = current % self.buckets
                self._period[slot] = current
                self._mean[slot] = self._sum / self._count
            slot = bucket % self.buckets
            self._reference = self._mean[slot] if self._period[slot] == bucket - self.buckets else None
            self._current, self._sum, self._count = bucket, 0.0, 0
        self._sum += value
        self._count += 1
        return self._reference


def score_series(points: Iterable[tuple[float, float]], config: AnomalyConfig | None = None) -> list[float]:
    """Stream ``points`` through a fresh detector; one score per point (the benchmark path)."""
    detector = AnomalyDetector(config)
    update = detector.update
    return [update(t, v) for t, v in points]
