"""The rule path: one kept detector per series between evaluations, and breaches at 0.5.

A detector is continued only when the new range overlaps what it has already seen (same
timestamps, same values); otherwise the range is replayed from scratch. ``clear_rule_state``
forgets every kept detector.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detection.evaluators.anomaly.detector import AnomalyConfig, AnomalyDetector, AnomalyResult
from detection.evaluators.base import Breach
from detection.sources.base import Series

# -- the rule path -----------------------------------------------------------------------------

# How many series' detectors a process keeps between rule evaluations (least recently used are
# dropped). At about 10 KiB each (``bench/nab.py`` prints the figure), 20,000 is about 200 MB.
RULE_STATE_CAPACITY = 20_000
# The last points fed to a kept detector, to recognise the same stream in the next range.
_RECENT_POINTS = 3


@dataclass(slots=True)
class _RuleState:
    detector: AnomalyDetector
    recent: tuple[tuple[float, float], ...] = ()
    result: AnomalyResult | None = None

    def continues(self, points: Sequence[tuple[float, float]], times: Sequence[float]) -> bool:
        """True when ``points`` extends the stream this detector was fed, not another one.

        Every remembered point inside the new range must reappear in it with the same value, and
        at least one must: then no data was skipped and the series is the one fed before (two
        rules whose queries yield the same labels but different numbers are told apart). A
        range query whose grid moved (``now`` not a multiple of the step) never matches, and is
        replayed in full, which is correct, only slower.
        """
        if not self.recent or self.recent[-1][0] > times[-1]:
            return False
        overlap = 0
        for t, v in self.recent:
            if t < times[0]:
                continue
            i = bisect_left(times, t)
            if i == len(times) or times[i] != t or not _same(points[i][1], v):
                return False
            overlap += 1
        return overlap > 0


_rule_states: OrderedDict[tuple, _RuleState] = OrderedDict()
_rule_states_lock = threading.Lock()


def clear_rule_state() -> None:
    """Forget every detector kept for rules (tests; a process that wants a clean slate)."""
    with _rule_states_lock:
        _rule_states.clear()


def evaluate_anomaly(series_list: Iterable[Series], config: AnomalyConfig | None = None) -> list[Breach]:
    """One ``Breach`` per series whose latest point scores at or over 0.5.

    A detector per (config, label set) is kept between calls, so a rule evaluated every cycle
    feeds each series only its new points: the detector sees the series as one long stream, as
    the benchmark does, and a cycle costs O(new points) per series instead of a replay of the
    whole range. When the range does not continue the kept stream (first evaluation, a gap
    longer than the range, different data under the same labels, a moved query grid), the range
    is replayed through a fresh detector; on the default hour at 60 s (61 points) only the raw
    value's range novelty has history enough to speak then. Ranges continue a kept stream only
    on a fixed grid, with the query's end (``now``) a multiple of the step.
    """
    cfg = config or AnomalyConfig()
    breaches = []
    for series in series_list:
        if not series.points:
            continue
        points = sorted(series.points)
        times = [t for t, _ in points]
        key = (cfg, tuple(sorted(series.labels.items())))
        with _rule_states_lock:
            # Taken out while in use: a concurrent evaluation of the same key replays instead.
            state = _rule_states.pop(key, None)
        if state is None or not state.continues(points, times):
            state, start = _RuleState(AnomalyDetector(cfg)), 0
        else:
            start = bisect_right(times, state.recent[-1][0])
        if start < len(points):
            detector = state.detector
            update = detector.update
            for t, v in points[start:-1]:
                update(t, v)
            state.result = detector.observe(*points[-1])
            state.recent = tuple(points[-_RECENT_POINTS:])
        with _rule_states_lock:
            _rule_states[key] = state
            while len(_rule_states) > RULE_STATE_CAPACITY:
                _rule_states.popitem(last=False)

        result = state.result
        if result is None or result.z is None or result.score < 0.5:
            continue
        t_last, v_last = points[-1]
        details: dict[str, float | str] = {"z": result.z}
        for name, number in (
            ("ratio", result.ratio),
            ("median", result.median),
            ("scale", result.scale),
            ("seasonal_z", result.seasonal_z),
        ):
            if number is not None and math.isfinite(number):
                details[name] = number
        if result.cause is not None:
            details["cause"] = result.cause
        breaches.append(
            Breach(
                labels=dict(series.labels),
                value=v_last,
                timestamp=t_last,
                score=result.score,
                reason=_reason(result, v_last, cfg),
                details=details,
            )
        )
    return breaches


_REASONS = {
    "range": "is beyond the range this series has shown",
    "mean range": "brings the {n}-point average beyond its usual range",
    "season": "is further from this time of day's usual value than ever before",
    "activity": "comes amid unusually large changes over the last {k} points",
    "infinite": "is infinite",
}


def _reason(result: AnomalyResult, value: float, cfg: AnomalyConfig) -> str:
    what = _REASONS.get(result.cause or "", "is unusual").format(n=cfg.smooth_points, k=cfg.activity_points)
    z = (
        f"; {abs(result.z):.1f} robust deviations from the median"
        if result.z is not None and math.isfinite(result.z)
        else ""
    )
    return f"value {value:g} {what}{z}"


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN equals NaN here: the same gap in the same series
