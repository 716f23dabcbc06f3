"""The robust anomaly scorer: streaming without look-ahead, and the rule path over range queries."""

from __future__ import annotations

import math
import random
import statistics
import time

import pytest

from detection.evaluators import AnomalyConfig, AnomalyDetector, evaluate_anomaly, score_series
from detection.evaluators.anomaly import Direction, _RobustWindow
from detection.sources.base import Series

STEP = 300.0  # five-minute points, like NAB's and a typical range query step
DAY = 86_400.0


def _noise(n: int, *, seed: int = 1, level: float = 100.0, sigma: float = 1.0, start: float = 0.0):
    rng = random.Random(seed)
    return [(start + i * STEP, level + rng.gauss(0, sigma)) for i in range(n)]


# -- the rolling median / MAD ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("size", [1, 2, 3, 10, 31])
def test_rolling_median_and_mad_match_the_textbook_definitions(seed: int, size: int) -> None:
    rng = random.Random(seed)
    window = _RobustWindow(size)
    values: list[float] = []
    for _ in range(3 * size + 7):
        # Ties and repeated values are where a clever MAD goes wrong.
        x = rng.choice([rng.random(), 1.0, 0.0, float(rng.randint(0, 3)), -2.5])
        values.append(x)
        window.push(x)
        current = values[-size:]
        median = statistics.median(current)
        assert window.median() == median
        assert window.mad(median) == pytest.approx(statistics.median([abs(v - median) for v in current]))
        assert len(window) == len(current)


# -- streaming -----------------------------------------------------------------------------------


def test_scores_are_zero_until_the_baseline_is_warm() -> None:
    config = AnomalyConfig(min_points=10, window=20, season_seconds=None)
    points = [*_noise(10), (10 * STEP, 1e6)]

    scores = score_series(points, config)

    assert scores[:10] == [0.0] * 10
    assert scores[10] > 0.99


def test_streaming_scores_never_look_ahead() -> None:
    points = _noise(400, seed=3)
    points[250] = (points[250][0], 160.0)
    full = score_series(points)

    for cut in (50, 200, 250, 251, 399):
        assert score_series(points[:cut]) == full[:cut]


def test_scores_stay_within_zero_and_one() -> None:
    rng = random.Random(7)
    detector = AnomalyDetector()
    for i in range(3000):
        value = rng.choice([rng.gauss(0, 1), rng.expovariate(0.01), 0.0, math.nan, math.inf, -math.inf, 1e300])
        score = detector.update(i * STEP, value)
        assert 0.0 <= score <= 1.0


def test_a_spike_in_noise_scores_high_and_ordinary_points_low() -> None:
    points = _noise(600, seed=5)
    points[500] = (points[500][0], 110.0)  # ten sigma

    scores = score_series(points)

    assert scores[500] > 0.8
    ordinary = [s for i, s in enumerate(scores) if i >= 30 and i != 500]
    false_alarms = sum(s >= 0.5 for s in ordinary)
    assert false_alarms / len(ordinary) < 0.01


def test_one_earlier_incident_does_not_hide_the_next() -> None:
    # A mean/stddev baseline would be inflated by the first burst and miss the second.
    points = _noise(300, seed=11)
    for i in range(150, 160):
        points[i] = (points[i][0], 140.0)
    points[200] = (points[200][0], 108.0)

    scores = score_series(points)

    assert scores[200] > 0.5


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (50.0, "low"),  # unchanged flat value
        (50.2, "low"),  # under 1 % of the level: not news
        (55.0, "high"),
        (40.0, "high"),
        (math.nan, "zero"),
        (math.inf, "one"),
        (-math.inf, "one"),
    ],
)
def test_flat_series_edge_values(last: float, expected: str) -> None:
    points = [(i * STEP, 50.0) for i in range(60)]

    score = score_series([*points, (60 * STEP, last)])[-1]

    assert {"low": score < 0.5, "high": score > 0.75, "zero": score == 0.0, "one": score == 1.0}[expected]


def test_an_idle_counter_leaving_zero_is_anomalous() -> None:
    points = [(i * STEP, 0.0) for i in range(60)]
    assert score_series([*points, (60 * STEP, 1.0)])[-1] > 0.9


@pytest.mark.parametrize(
    ("direction", "spike", "flagged"),
    [("both", 120.0, True), ("both", 80.0, True), ("up", 120.0, True), ("up", 80.0, False), ("down", 80.0, True)],
)
def test_direction_limits_which_side_counts(direction: Direction, spike: float, flagged: bool) -> None:
    config = AnomalyConfig(direction=direction, season_seconds=None)
    points = [*_noise(100), (100 * STEP, spike)]

    assert (score_series(points, config)[-1] >= 0.5) is flagged


def _nightly_batch(days: int, *, extra_burst_at: float | None = None) -> list[tuple[float, float]]:
    """Quiet traffic with a 30-minute burst at 06:00 every day, like a daily batch job."""
    points = []
    for t, v in _noise(int(days * DAY / STEP), seed=9):
        seconds = t % DAY
        if 6 * 3600 <= seconds < 6.5 * 3600 or (extra_burst_at is not None and 0 <= t - extra_burst_at < 1800):
            v += 40.0
        points.append((t, v))
    return points


def test_a_burst_that_happens_every_day_stops_being_news() -> None:
    points = _nightly_batch(3)
    scores = score_series(points)
    first_night = int((6 * 3600) / STEP)
    third_night = int((2 * DAY + 6 * 3600) / STEP)

    assert scores[first_night] > 0.9  # never seen before
    assert scores[third_night] < 0.5  # yesterday looked the same at this hour


def test_the_same_burst_at_an_unusual_hour_is_still_news() -> None:
    unusual = 2 * DAY + 14 * 3600
    points = _nightly_batch(3, extra_burst_at=unusual)

    scores = score_series(points)

    assert scores[int(unusual / STEP)] > 0.9


def test_without_a_season_the_daily_burst_keeps_alarming() -> None:
    points = _nightly_batch(3)
    scores = score_series(points, AnomalyConfig(season_seconds=None))

    assert scores[int((2 * DAY + 6 * 3600) / STEP)] > 0.9


def test_memory_and_time_per_point_stay_bounded() -> None:
    config = AnomalyConfig()
    detector = AnomalyDetector(config)
    started = time.perf_counter()
    for t, v in _noise(20_000, seed=2):
        detector.update(t, v)
    elapsed = time.perf_counter() - started

    assert detector.baseline_size == config.window
    assert elapsed < 5.0  # ~10 µs a point here; a quadratic scorer would take minutes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_points": 2},
        {"window": 10, "min_points": 20},
        {"z_threshold": 0},
        {"direction": "sideways"},
        {"season_seconds": -1.0},
        {"season_buckets": 0},
        {"min_scale": 0.0},
        {"relative_floor": -0.1},
    ],
)
def test_invalid_configs_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AnomalyConfig(**kwargs)


# -- the rule path -------------------------------------------------------------------------------


def test_rule_path_reports_a_breach_for_an_unusual_latest_point() -> None:
    normal = Series(labels={"service": "payments"}, points=_noise(120, seed=1))
    spiking = Series(labels={"service": "checkout"}, points=[*_noise(119, seed=2), (119 * STEP, 125.0)])

    (breach,) = evaluate_anomaly([normal, spiking])

    assert breach.labels == {"service": "checkout"}
    assert (breach.value, breach.timestamp) == (125.0, 119 * STEP)
    assert breach.score is not None and 0.5 <= breach.score <= 1.0
    assert breach.details["z"] > 3.5
    assert breach.details["median"] == pytest.approx(100.0, abs=0.5)


def test_rule_path_scores_the_last_point_like_the_stream_does() -> None:
    config = AnomalyConfig(z_threshold=1.0)
    points = [*_noise(200, seed=4), (200 * STEP, 104.0)]

    # Out of order on purpose: range results are sorted before replay.
    (breach,) = evaluate_anomaly([Series(labels={}, points=list(reversed(points)))], config)

    assert breach.score == score_series(points, config)[-1]


@pytest.mark.parametrize(
    "points",
    [
        [],
        _noise(10),  # shorter than min_points: nothing to compare with
        [*_noise(100), (100 * STEP, math.nan)],
        _noise(100),
    ],
    ids=["empty", "too-short", "nan-last", "ordinary"],
)
def test_rule_path_stays_quiet_without_evidence(points: list[tuple[float, float]]) -> None:
    assert evaluate_anomaly([Series(labels={"service": "x"}, points=points)]) == []
