"""The anomaly scorer: streaming without look-ahead, and the rule path over range queries."""

from __future__ import annotations

import math
import random
import statistics
import time
from bisect import bisect_left
from collections.abc import Iterator

import pytest

from detection.evaluators import AnomalyConfig, AnomalyDetector, evaluate_anomaly, score_series
from detection.evaluators.anomaly import Direction, clear_rule_state
from detection.evaluators.anomaly import rules as anomaly_rules
from detection.evaluators.anomaly.detector import _SortedWindow
from detection.sources.base import Series

STEP = 300.0  # five-minute points, like NAB's and a typical range query step
DAY = 86_400.0
WARM = AnomalyConfig().min_points


@pytest.fixture(autouse=True)
def _fresh_rule_state() -> Iterator[None]:
    # The rule path keeps detectors per (config, labels) between calls: no test may see another's.
    clear_rule_state()
    yield
    clear_rule_state()


def _noise(n: int, *, seed: int = 1, level: float = 100.0, sigma: float = 1.0, start: float = 0.0):
    rng = random.Random(seed)
    return [(start + i * STEP, level + rng.gauss(0, sigma)) for i in range(n)]


def _alerts(scores: list[float]) -> list[int]:
    return [i for i, s in enumerate(scores) if s >= 0.5]


# -- the rolling median / MAD ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("size", [1, 2, 3, 10, 31, 120])
def test_rolling_median_and_mad_match_the_textbook_definitions(seed: int, size: int) -> None:
    rng = random.Random(seed)
    window = _SortedWindow(size)
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
        assert window.mean_abs_dev(median) == pytest.approx(statistics.fmean([abs(v - median) for v in current]))
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


def _eventful(n: int, *, seed: int) -> list[tuple[float, float]]:
    """A daily cycle with noise, a spike, a level shift and a burst of oscillation."""
    rng = random.Random(seed)
    points = []
    for i in range(n):
        t = i * STEP
        v = 100 + 20 * math.sin(2 * math.pi * t / DAY) + rng.gauss(0, 2)
        if i == 700:
            v += 60
        if i >= 1100:
            v += 15
        if 1500 <= i < 1560:
            v += 8 if i % 2 else -8
        points.append((t, v))
    return points


@pytest.mark.parametrize("seed", range(3))
def test_the_streaming_detector_is_causal(seed: int) -> None:
    # Whatever the future holds (here: replaced by garbage, gaps and infinities), the scores of
    # the points before it are exactly the same: no statistic reads ahead.
    points = _eventful(2000, seed=seed)
    full = score_series(points)
    assert _alerts(full), "the series has anomalies the detector should see"
    rng = random.Random(seed)
    for cut in (100, 701, 1100, 1530):
        future = [(t, rng.choice([rng.uniform(-1e6, 1e6), math.nan, math.inf, 0.0])) for t, _ in points[cut:]]
        assert score_series(points[:cut] + future)[:cut] == full[:cut]


def test_observe_and_update_tell_the_same_story() -> None:
    points = _eventful(1800, seed=5)
    by_update = score_series(points)
    detector = AnomalyDetector()
    by_observe = [detector.observe(t, v).score for t, v in points]

    assert by_observe == by_update


def test_scores_stay_within_zero_and_one() -> None:
    rng = random.Random(7)
    detector = AnomalyDetector()
    for i in range(3000):
        value = rng.choice([rng.gauss(0, 1), rng.expovariate(0.01), 0.0, math.nan, math.inf, -math.inf, 1e300, -1e300])
        score = detector.update(i * STEP, value)
        assert 0.0 <= score <= 1.0


def test_gaps_and_huge_values_are_not_learned() -> None:
    # NaN is no data and ±Inf or overflow-sized values are never learned: dropping them leaves
    # every other point's score unchanged.
    points = _eventful(1600, seed=2)
    rng = random.Random(2)
    noisy = list(points)
    for i in rng.sample(range(50, 1600), 40):
        noisy[i] = (noisy[i][0], rng.choice([math.nan, math.inf, -math.inf, 1e200]))
    kept = [i for i, (_, v) in enumerate(noisy) if math.isfinite(v) and abs(v) < 1e150]

    with_gaps = score_series(noisy)
    without = score_series([noisy[i] for i in kept])

    assert [with_gaps[i] for i in kept] == without
    for i in set(range(1600)) - set(kept):
        warm = bisect_left(kept, i) >= WARM  # finite values learned before this point
        assert with_gaps[i] == (1.0 if warm and not math.isnan(noisy[i][1]) else 0.0)


def test_a_spike_in_noise_scores_high_and_ordinary_points_low() -> None:
    points = _noise(600, seed=5)
    points[500] = (points[500][0], 110.0)  # ten sigma

    scores = score_series(points)

    assert scores[500] > 0.8
    ordinary = [s for i, s in enumerate(scores) if i >= WARM and i != 500]
    false_alarms = sum(s >= 0.5 for s in ordinary)
    assert false_alarms / len(ordinary) < 0.01


def test_a_level_shift_alerts_at_its_onset_and_then_is_the_new_normal() -> None:
    points = _noise(1200, seed=8)
    points[800:] = [(t, v + 8.0) for t, v in points[800:]]  # eight sigma, for good

    alerts = _alerts(score_series(points, AnomalyConfig(season_seconds=None)))

    assert any(800 <= i < 805 for i in alerts)
    assert len([i for i in alerts if i >= 800]) <= 2


def test_oscillation_inside_the_known_range_is_caught_by_change_activity() -> None:
    # Neither value is new (the range already spans 85..115), but the series moves as it never did.
    rng = random.Random(21)
    points = []
    for i in range(1500):
        v = 100 + rng.gauss(0, 1)
        v = {200: 115.0, 210: 85.0}.get(i, v)
        if i >= 1200:
            v = 100 + (3.0 if i % 2 else -3.0) + rng.gauss(0, 0.3)
        points.append((i * STEP, v))
    detector = AnomalyDetector(AnomalyConfig(season_seconds=None))

    results = [detector.observe(t, v) for t, v in points]

    first = next(i for i, r in enumerate(results) if i >= 1200 and r.score >= 0.5)
    assert first < 1220
    assert results[first].cause == "activity"
    assert not [i for i, r in enumerate(results) if 300 <= i < 1200 and r.score >= 0.5]


def test_an_alert_rests_unless_something_much_bigger_follows() -> None:
    config = AnomalyConfig(season_seconds=None, rest_points=24)
    points = _noise(600, seed=5)
    points[500] = (points[500][0], 110.0)
    points[505] = (points[505][0], 111.0)  # the same incident, a little further: quiet
    points[510] = (points[510][0], 200.0)  # far bigger: news despite the rest

    scores = score_series(points, config)

    assert scores[500] >= 0.5
    assert scores[501:510] == [0.0] * 9
    assert scores[510] >= 0.5


def test_one_earlier_incident_raises_the_bar_only_on_its_own_side() -> None:
    # An incident widens the range the detector knows, so a smaller spike the same way is no
    # longer news; the other side, and anything bigger, still are.
    points = _noise(300, seed=11)
    for i in range(150, 160):
        points[i] = (points[i][0], 140.0)
    smaller, other_side, bigger = list(points), list(points), list(points)
    smaller[200] = (smaller[200][0], 108.0)
    other_side[200] = (other_side[200][0], 92.0)
    bigger[200] = (bigger[200][0], 160.0)

    assert score_series(smaller)[200] < 0.5
    assert score_series(other_side)[200] >= 0.5
    assert score_series(bigger)[200] >= 0.5


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
    points = [(i * STEP, 50.0) for i in range(WARM)]

    score = score_series([*points, (WARM * STEP, last)])[-1]

    assert {"low": score < 0.5, "high": score > 0.75, "zero": score == 0.0, "one": score == 1.0}[expected]


def test_an_idle_counter_leaving_zero_is_anomalous() -> None:
    points = [(i * STEP, 0.0) for i in range(WARM)]
    assert score_series([*points, (WARM * STEP, 1.0)])[-1] > 0.9


@pytest.mark.parametrize(
    ("direction", "spike", "flagged"),
    [("both", 120.0, True), ("both", 80.0, True), ("up", 120.0, True), ("up", 80.0, False), ("down", 80.0, True)],
)
def test_direction_limits_which_side_counts(direction: Direction, spike: float, flagged: bool) -> None:
    config = AnomalyConfig(direction=direction, season_seconds=None)
    points = [*_noise(200), (200 * STEP, spike)]

    assert (score_series(points, config)[-1] >= 0.5) is flagged


EVENING = 18 * 3600.0  # the series starts at 18:00, so the first 06:00 is past the warm-up


def _at(t: float) -> int:
    return round((t - EVENING) / STEP)


def _nightly_batch(days: int, *, extra_burst_at: float | None = None) -> list[tuple[float, float]]:
    """Quiet traffic with a 30-minute burst at 06:00 every day, like a daily batch job."""
    points = []
    for t, v in _noise(int(days * DAY / STEP), seed=9, start=EVENING):
        seconds = t % DAY
        if 6 * 3600 <= seconds < 6.5 * 3600 or (extra_burst_at is not None and 0 <= t - extra_burst_at < 1800):
            v += 40.0
        points.append((t, v))
    return points


def test_a_burst_that_happens_every_day_stops_being_news() -> None:
    points = _nightly_batch(4)
    scores = score_series(points)
    first_night = _at(DAY + 6 * 3600)
    third_night = _at(3 * DAY + 6 * 3600)

    assert scores[first_night] > 0.9  # never seen before
    assert max(scores[third_night : third_night + 6]) < 0.5  # seen at this hour before


def test_the_same_burst_at_an_unusual_hour_is_news_for_the_seasonal_record() -> None:
    unusual = 3 * DAY + 14 * 3600
    points = _nightly_batch(4, extra_burst_at=unusual)
    detector = AnomalyDetector()

    result = [detector.observe(t, v) for t, v in points][_at(unusual)]

    assert result.score >= 0.5
    assert result.cause == "season"


def test_without_a_season_a_burst_of_a_familiar_size_is_not_news() -> None:
    # The value is inside the range the nightly bursts taught; only the time of day is wrong.
    unusual = 3 * DAY + 14 * 3600
    points = _nightly_batch(4, extra_burst_at=unusual)

    scores = score_series(points, AnomalyConfig(season_seconds=None))

    assert scores[_at(unusual)] < 0.5


def test_memory_and_time_per_point_stay_bounded() -> None:
    config = AnomalyConfig()
    detector = AnomalyDetector(config)
    started = time.perf_counter()
    for t, v in _noise(20_000, seed=2):
        detector.update(t, v)
    elapsed = time.perf_counter() - started

    assert detector.baseline_size == config.window
    assert elapsed < 5.0  # ~5 µs a point here; a quadratic scorer would take minutes


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
        {"smooth_points": 0},
        {"novelty_margin": 0.0},
        {"record_factor": 0.0},
        {"season_min_points": 0},
        {"activity_points": 0},
        {"activity_memory": 0},
        {"activity_tail": 1.0},
        {"rest_points": -1},
        {"memory_points": 0},
    ],
)
def test_invalid_configs_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AnomalyConfig(**kwargs)


# -- the rule path -------------------------------------------------------------------------------


def test_rule_path_reports_a_breach_for_an_unusual_latest_point() -> None:
    normal = Series(labels={"service": "payments"}, points=_noise(200, seed=1))
    spiking = Series(labels={"service": "checkout"}, points=[*_noise(199, seed=2), (199 * STEP, 125.0)])

    (breach,) = evaluate_anomaly([normal, spiking])

    assert breach.labels == {"service": "checkout"}
    assert (breach.value, breach.timestamp) == (125.0, 199 * STEP)
    assert breach.score is not None and 0.5 <= breach.score <= 1.0
    assert breach.details["z"] > 3.5
    assert breach.details["median"] == pytest.approx(100.0, abs=0.5)
    assert breach.details["cause"] == "range"
    assert breach.reason.startswith("value 125 is beyond the range")


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
        _noise(WARM),  # not longer than min_points: nothing to compare with
        [*_noise(300), (300 * STEP, math.nan)],
        _noise(300),
    ],
    ids=["empty", "too-short", "nan-last", "ordinary"],
)
def test_rule_path_stays_quiet_without_evidence(points: list[tuple[float, float]]) -> None:
    assert evaluate_anomaly([Series(labels={"service": "x"}, points=points)]) == []


def test_a_cold_range_of_noise_rarely_breaches() -> None:
    # A first evaluation (or one that cannot continue a kept stream) sees only the default hour:
    # records among 60 points are cheap, so the range margin is wider and the means wait.
    series = [Series({"pod": str(k)}, _noise(61, seed=k, sigma=5.0)) for k in range(500)]

    assert len(evaluate_anomaly(series)) <= 10  # 9 of 500 here; 20 with novelty_history=0


def _cycles(points: list[tuple[float, float]], *, span: int = 61, labels: dict | None = None) -> list[int]:
    """Evaluate a rule every step over a sliding range of ``span`` points; where it breached."""
    breached = []
    for end in range(span, len(points) + 1):
        series = Series(labels=labels or {"pod": "a"}, points=points[end - span : end])
        if evaluate_anomaly([series]):
            breached.append(end - 1)
    return breached


def test_rule_path_keeps_each_series_stream_between_evaluations() -> None:
    # Ranges on a fixed grid overlap from one cycle to the next: the kept detector continues the
    # stream, so the rule alerts exactly where the streaming detector does (after its warm-up),
    # although no single 61-point range could tell a daily pattern or change activity.
    points = _eventful(2000, seed=1)
    stream = [i for i in _alerts(score_series(points)) if i >= 60]  # 61-point ranges from there

    assert _cycles(points) == stream
    assert len(stream) >= 3


def test_rule_path_feeds_a_warm_detector_only_the_new_points() -> None:
    ranges = {f"pod-{k}": _noise(62, seed=k) for k in range(50)}
    evaluate_anomaly([Series({"pod": name}, points[:61]) for name, points in ranges.items()])
    evaluate_anomaly([Series({"pod": name}, points[1:]) for name, points in ranges.items()])

    kept = list(anomaly_rules._rule_states.values())
    assert len(kept) == 50
    assert all(state.detector._seen == 62 for state in kept)  # 61 replayed once, then 1 more


def test_rule_path_tells_apart_two_streams_under_the_same_labels() -> None:
    # Two rules whose queries return the same label set but different numbers must not share a
    # detector: each evaluation must score as a fresh replay of its own range would.
    a = _eventful(400, seed=1)
    b = [(t, v * 3 + 50) for t, v in _eventful(400, seed=2)]
    for end in range(61, 400, 7):
        for points in (a, b):
            window = points[end - 61 : end]
            expected = score_series(window)[-1] >= 0.5
            assert bool(evaluate_anomaly([Series({"pod": "a"}, window)])) is expected


def test_rule_path_replays_a_range_whose_grid_moved() -> None:
    points = _eventful(300, seed=3)
    evaluate_anomaly([Series({"pod": "a"}, points[:61])])
    moved = [(t + 7.0, v) for t, v in points[1:62]]  # "now" not on the step: no shared timestamp

    breaches = evaluate_anomaly([Series({"pod": "a"}, moved)])

    assert bool(breaches) is (score_series(moved)[-1] >= 0.5)
    (state,) = anomaly_rules._rule_states.values()
    assert state.detector._seen == 61


def test_rule_path_keeps_at_most_the_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anomaly_rules, "RULE_STATE_CAPACITY", 3)
    evaluate_anomaly([Series({"pod": str(k)}, _noise(61, seed=k)) for k in range(5)])

    assert [key[1] for key in anomaly_rules._rule_states] == [(("pod", "2"),), (("pod", "3"),), (("pod", "4"),)]
