"""Change detection on a series: the band, the onset, the magnitude; young and edge-case series."""

from __future__ import annotations

import math

import pytest

from correlation.changes import (
    SIGNALS,
    SignalSpec,
    change_point,
    detect_change,
    excerpt,
    finding_from_series,
    magnitude_from_excursion,
    robust_scale,
)

T0 = 1_700_000_000.0
ERRORS = SIGNALS["error_ratio"]


def series(values, start=T0, step=1.0):
    return [(start + i * step, v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    "values, expected_onset",
    [
        ([0.0] * 30 + [0.3] * 10, T0 + 30),  # a step
        ([0.0] * 30 + [0.3, 0.0] * 5, None),  # flapping single points never make a run
        ([0.0] * 30 + [0.005] * 10, None),  # half a percentage point: under the absolute floor
        ([0.0] * 30 + [0.0, 0.02, 0.03, 0.03], T0 + 31),  # the onset is the run's first point
        ([0.0] * 30 + [0.3], None),  # one point is a blip
        ([], None),
    ],
)
def test_onset_is_the_first_run_outside_the_band(values, expected_onset):
    change = detect_change(series(values), baseline_end=T0 + 30, spec=ERRORS)
    assert (change.onset if change else None) == expected_onset


def test_exactly_at_the_band_edge_is_inside():
    spec = SignalSpec("x", "x", abs_floor=1.0, rel_floor=0.0, direction="up")
    flat = [10.0] * 20
    assert detect_change(series(flat + [11.0] * 5), baseline_end=T0 + 20, spec=spec) is None
    assert detect_change(series(flat + [11.0001] * 5), baseline_end=T0 + 20, spec=spec) is not None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_points_are_unknown_not_zero(bad):
    values = [0.0] * 20 + [bad] * 5 + [0.4] * 5
    change = detect_change(series(values), baseline_end=T0 + 20, spec=ERRORS)
    assert change is not None and change.onset == T0 + 25
    assert detect_change(series([0.0] * 20 + [bad] * 10), baseline_end=T0 + 20, spec=ERRORS) is None


@pytest.mark.parametrize(
    "direction, values, expected",
    [
        ("up", [100.0] * 20 + [20.0] * 5, None),
        ("down", [100.0] * 20 + [20.0] * 5, "down"),
        ("both", [100.0] * 20 + [20.0] * 5, "down"),
        ("down", [100.0] * 20 + [300.0] * 5, None),
    ],
)
def test_direction_limits_what_counts(direction, values, expected):
    spec = SignalSpec("rate", "rate", direction=direction, rel_floor=0.3)
    change = detect_change(series(values), baseline_end=T0 + 20, spec=spec)
    assert (change.direction if change else None) == expected


def test_a_noisy_baseline_widens_the_band():
    noisy = [0.1, 0.3, 0.2, 0.4, 0.15, 0.35, 0.25, 0.3, 0.1, 0.2] * 3
    assert detect_change(series(noisy + [0.45] * 5), baseline_end=T0 + 30, spec=ERRORS) is None
    assert detect_change(series(noisy + [0.95] * 5), baseline_end=T0 + 30, spec=ERRORS) is not None


def test_a_spike_that_does_not_hold_weighs_less_than_a_step():
    step = detect_change(series([0.0] * 20 + [0.5] * 10), baseline_end=T0 + 20, spec=ERRORS)
    spike = detect_change(series([0.0] * 20 + [0.5] * 3 + [0.0] * 7), baseline_end=T0 + 20, spec=ERRORS)
    assert step.step_change and not spike.step_change
    assert spike.magnitude == pytest.approx(step.magnitude * 0.8, rel=1e-3)


@pytest.mark.parametrize("excursion, expected", [(0, 0.0), (1, 0.2), (2, 0.5), (10, 100 / 104), (math.inf, 1.0)])
def test_magnitude_maps_the_excursion_into_the_unit_interval(excursion, expected):
    assert magnitude_from_excursion(excursion) == pytest.approx(expected)


def test_a_young_series_takes_its_baseline_from_before_its_change_point():
    values = [0.0] * 8 + [0.1, 0.2, 0.3] + [0.4] * 6
    change = detect_change(series(values), baseline_end=T0 - 1000, spec=ERRORS)
    assert change.baseline_source == "leading"
    assert T0 + 8 <= change.onset <= T0 + 10
    assert detect_change(series([0.0] * 4), baseline_end=T0 - 1000, spec=ERRORS) is None


@pytest.mark.parametrize(
    "values, expected",
    [([0, 0, 0, 0, 0, 5, 5, 5], 5), ([1, 1, 1, 1, 1, 1], 2), ([0] * 3, None)],
)
def test_change_point_splits_two_levels(values, expected):
    assert change_point(series([float(v) for v in values]), min_left=2, min_right=2) == expected


@pytest.mark.parametrize(
    "values, expected", [([], 0.0), ([3.0] * 5, 0.0), ([1, 2, 3, 4, 5], 1.4826), ([0, 0, 0, 1, 1], 0.4 * 1.2533)]
)
def test_robust_scale(values, expected):
    assert robust_scale(values) == pytest.approx(expected)


def test_the_excerpt_keeps_points_around_the_onset():
    points = series(list(range(100)))
    kept = excerpt(points, onset=T0 + 90, limit=12)
    assert len(kept) == 12
    assert sum(1 for t, _ in kept if t < T0 + 90) == 4
    assert kept[-1] == [T0 + 99, 99]


def test_finding_from_series_names_what_moved():
    finding = finding_from_series(
        service="payments", signal="error_ratio", points=series([0.0] * 20 + [0.25] * 5), baseline_end=T0 + 20,
        source="prom", evidence={"query": "q"},
    )
    assert finding.key == "metrics:payments:error_ratio" and finding.kind == "metrics"
    assert finding.title == "Error ratio of payments rose from 0.0% to 25.0%"
    assert finding.onset == T0 + 20 and finding.specificity == ERRORS.specificity
    assert finding.evidence["query"] == "q" and finding.evidence["step_change"] is True
    assert finding_from_series(service="x", signal="error_ratio", points=[], baseline_end=T0) is None
