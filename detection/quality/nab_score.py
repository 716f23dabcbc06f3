"""NAB scoring: how well a detector's per-row anomaly scores find labeled anomaly windows.

Written from the description of the Numenta Anomaly Benchmark (Lavin & Ahmad 2015; Ahmad et
al. 2017), not from its code:

- Each labeled anomaly is a window of rows. Only the earliest detection in a window counts, and
  it is worth ``tp_weight * sigma(y) / sigma(-1)`` with ``y = -(right - i + 1) / width``: a
  detection at the window's first row earns the full ``tp_weight``, later ones less. A window
  with no detection costs ``fn_weight``.
- A detection outside every window costs ``fp_weight * sigma(y)`` (``sigma`` is negative past a
  window), with ``y`` the distance past the previous window's right edge over that window's
  ``width - 1``: a detection just after a window is nearly free (late but right), one far from
  any window costs the full ``fp_weight``, as does one with no window before it.
- The first ``min(floor(0.15 * rows), 750)`` rows of a file are probationary, for the detector
  to learn: they are never scored, and a window wholly inside them is neither won nor lost.
- A row is a detection when its score is ``>= threshold``. One threshold serves the whole
  corpus; the sweep tries every distinct score and keeps the best raw total per profile.
- ``normalized = 100 * (raw - raw_null) / (raw_perfect - raw_null)`` with
  ``raw_perfect = windows * tp_weight`` and ``raw_null = -windows * fn_weight``, counting every
  labeled window of the corpus.

The sweep sorts the candidate rows once and walks them from the highest score down, updating
the total incrementally, so scoring a corpus is one sort plus one pass per profile.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROBATION_FRACTION = 0.15
# NAB caps probation at 15 % of 5,000 rows: long files must not hide most anomalies in it.
PROBATION_MAX_ROWS = 750


@dataclass(frozen=True, slots=True)
class CostProfile:
    tp_weight: float
    fp_weight: float
    fn_weight: float


# NAB's three application profiles (config/profiles.json); the TN weight is never used.
PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    "reward_low_FP_rate": CostProfile(tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    "reward_low_FN_rate": CostProfile(tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
}


def profiles_from_config(config: Mapping[str, Any]) -> dict[str, CostProfile]:
    """Profiles from NAB's ``profiles.json`` shape: ``{name: {"CostMatrix": {"tpWeight": ..}}}``."""
    profiles = {}
    for name, entry in config.items():
        matrix = entry["CostMatrix"]
        profiles[name] = CostProfile(
            tp_weight=float(matrix["tpWeight"]),
            fp_weight=float(matrix["fpWeight"]),
            fn_weight=float(matrix["fnWeight"]),
        )
    return profiles


def scaled_sigmoid(y: float) -> float:
    """``2 / (1 + e^(5y)) - 1``: +0.987 at y = -1 (early in a window), 0 at its edge, -> -1 after."""
    if y > 100:  # e^(5y) overflows; the value is -1 to double precision long before that
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


TP_AT_WINDOW_START = scaled_sigmoid(-1.0)


def probation_length(rows: int) -> int:
    return min(math.floor(PROBATION_FRACTION * rows), PROBATION_MAX_ROWS)


def window_indices(timestamps: Sequence[Any], windows: Iterable[tuple[Any, Any]]) -> list[tuple[int, int]]:
    """Labeled windows as inclusive row ranges.

    ``timestamps`` must be ascending and of the same type as the window bounds (datetimes, or
    epoch seconds). A bound that is not a row's timestamp snaps inward, to the first row at or
    after the start and the last row at or before the end; a window holding no row is dropped.
    """
    ranges = []
    for start, end in windows:
        first = bisect_left(timestamps, start)
        last = bisect_right(timestamps, end) - 1
        if first <= last:
            ranges.append((first, last))
    return ranges


@dataclass(frozen=True, slots=True)
class LabeledSeries:
    """One file's per-row detector scores and its anomaly windows (inclusive row ranges)."""

    name: str
    scores: Sequence[float]
    windows: Sequence[tuple[int, int]] = ()


@dataclass(frozen=True, slots=True)
class ThresholdScore:
    threshold: float  # math.inf: nothing is a detection (the null detector)
    raw: float
    windows_detected: int
    windows_missed: int
    false_positives: int  # rows outside every window at or over the threshold


@dataclass(frozen=True, slots=True)
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    normalized: float
    windows_detected: int
    windows_missed: int
    false_positives: int


@dataclass(slots=True)
class Corpus:
    """The scoreable rows of a set of series, ready for any threshold and any profile.

    ``weight`` is the unweighted value of a row if it were a detection: ``sigma(y)/sigma(-1)``
    inside a window (times ``tp_weight``), ``sigma(y) <= 0`` outside (times ``fp_weight``).
    """

    score: list[float] = field(default_factory=list)
    window: list[int] = field(default_factory=list)  # corpus-wide window id, -1 outside
    weight: list[float] = field(default_factory=list)
    windows_total: int = 0  # every labeled window: what normalization counts
    windows_scored: int = 0  # windows with at least one row after probation: what can be missed
    _order: list[int] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, series: Iterable[LabeledSeries]) -> Corpus:
        corpus = cls()
        for s in series:
            corpus.add(s)
        return corpus

    def add(self, series: LabeledSeries) -> None:
        rows = len(series.scores)
        windows = sorted(series.windows)
        for (_, right), (left, _) in zip(windows, windows[1:], strict=False):
            if left <= right:
                raise ValueError(f"{series.name}: anomaly windows overlap")
        start = probation_length(rows)
        base = self.windows_total
        self.windows_total += len(windows)
        self.windows_scored += sum(1 for _, right in windows if right >= start)
        self._order = None

        w = 0  # next window not yet passed
        prev_right, prev_width = -1, 0
        for i in range(rows):
            while w < len(windows) and windows[w][1] < i:
                prev_right, prev_width = windows[w][1], windows[w][1] - windows[w][0] + 1
                w += 1
            if i < start:
                continue
            value = series.scores[i]
            if math.isnan(value):
                continue  # no score: never a detection at any threshold
            if w < len(windows) and windows[w][0] <= i:
                left, right = windows[w]
                width = right - left + 1
                self.window.append(base + w)
                self.weight.append(scaled_sigmoid(-(right - i + 1) / width) / TP_AT_WINDOW_START)
            else:
                self.window.append(-1)
                if prev_right < 0:
                    self.weight.append(-1.0)
                else:
                    # A one-row window has no length to scale by; treat it as two rows wide.
                    self.weight.append(scaled_sigmoid((i - prev_right) / max(prev_width - 1, 1)))
            self.score.append(value)

    def order(self) -> list[int]:
        """Row positions by descending score: the sweep's walking order, computed once."""
        if self._order is None:
            self._order = sorted(range(len(self.score)), key=self.score.__getitem__, reverse=True)
        return self._order


def sweep(corpus: Corpus, profile: CostProfile) -> list[ThresholdScore]:
    """The raw score at every distinct threshold, from "nothing detected" down to the lowest score."""
    return list(_walk(corpus, profile))


def best_threshold(corpus: Corpus, profile: CostProfile) -> ThresholdScore:
    """The threshold with the highest raw score; on a tie, the highest such threshold."""
    best = None
    for entry in _walk(corpus, profile):
        if best is None or entry.raw > best.raw:
            best = entry
    assert best is not None  # _walk always yields the no-detection entry
    return best


def score_at(corpus: Corpus, profile: CostProfile, threshold: float) -> ThresholdScore:
    """The raw score with rows at or over ``threshold`` as detections."""
    best: dict[int, float] = {}
    fp_total, false_positives = 0.0, 0
    for score, window, weight in zip(corpus.score, corpus.window, corpus.weight, strict=True):
        if not score >= threshold:
            continue
        if window < 0:
            fp_total += profile.fp_weight * weight
            false_positives += 1
        elif weight > best.get(window, -math.inf):
            best[window] = weight
    detected = len(best)
    raw = profile.tp_weight * sum(best.values()) + fp_total - profile.fn_weight * (corpus.windows_scored - detected)
    return ThresholdScore(threshold, raw, detected, corpus.windows_scored - detected, false_positives)


def normalize(raw: float, windows: int, profile: CostProfile) -> float:
    """0 for the null detector (detects nothing), 100 for a perfect one."""
    perfect = windows * profile.tp_weight
    null = -windows * profile.fn_weight
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(
    series: Iterable[LabeledSeries] | Corpus,
    profiles: Mapping[str, CostProfile] = PROFILES,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, ProfileResult]:
    """Each profile's result: at its best swept threshold, or at ``thresholds[profile]`` if given."""
    corpus = series if isinstance(series, Corpus) else Corpus.build(series)
    results = {}
    for name, profile in profiles.items():
        if thresholds is not None and name in thresholds:
            entry = score_at(corpus, profile, thresholds[name])
        else:
            entry = best_threshold(corpus, profile)
        results[name] = ProfileResult(
            profile=name,
            threshold=entry.threshold,
            raw=entry.raw,
            normalized=normalize(entry.raw, corpus.windows_total, profile),
            windows_detected=entry.windows_detected,
            windows_missed=entry.windows_missed,
            false_positives=entry.false_positives,
        )
    return results


def _walk(corpus: Corpus, profile: CostProfile) -> Iterable[ThresholdScore]:
    tp_w, fp_w, fn_w = profile.tp_weight, profile.fp_weight, profile.fn_weight
    scores, windows, weights = corpus.score, corpus.window, corpus.weight
    scored = corpus.windows_scored
    # Best detection value so far per window; walking by descending score, a later row of the
    # walk may sit earlier in its window and so replace the window's value.
    best: dict[int, float] = {}
    raw = -fn_w * scored
    false_positives = 0
    yield ThresholdScore(math.inf, raw, 0, scored, 0)

    order = corpus.order()
    n, k = len(order), 0
    while k < n:
        threshold = scores[order[k]]
        # Rows with equal scores switch on together: one threshold cannot separate them.
        while k < n and scores[order[k]] == threshold:
            row = order[k]
            window = windows[row]
            if window < 0:
                raw += fp_w * weights[row]
                false_positives += 1
            else:
                value = tp_w * weights[row]
                old = best.get(window)
                if old is None:
                    raw += value + fn_w
                    best[window] = value
                elif value > old:
                    raw += value - old
                    best[window] = value
            k += 1
        yield ThresholdScore(threshold, raw, len(best), scored - len(best), false_positives)
