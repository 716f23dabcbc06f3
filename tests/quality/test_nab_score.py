"""The NAB scorer: hand-computed cases, then NAB's own published figures from the shared fixtures."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from detection.quality.nab_score import (
    PROFILES,
    Corpus,
    CostProfile,
    LabeledSeries,
    best_threshold,
    normalize,
    probation_length,
    scaled_sigmoid,
    score_at,
    score_corpus,
    sweep,
    window_indices,
)
from tests.conftest import require_service

NAB = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "nab"
STANDARD = PROFILES["standard"]

# sigma(y) = 2 / (1 + e^(5y)) - 1, worked by hand (e^-5 = 0.0067379, e^-3.75 = 0.0235177):
SIGMA_MINUS_1 = 0.9866143  # 2 / 1.0067379 - 1: a detection on a window's first row
TP_ROW_11 = 0.9669891  # row 11 of window [10, 13]: y = -(13 - 11 + 1) / 4 = -0.75, 0.9540453 / 0.9866143
FP_ROW_16 = -0.9866143  # row 16, 3 rows past a 4-row window: y = 3 / (4 - 1) = 1, sigma(1) = -sigma(-1)


def hand_made(scores: dict[int, float], rows: int = 20, rest: float = 0.0) -> LabeledSeries:
    """20 rows (probation: rows 0-2), one anomaly window over rows 10-13, ``rest`` elsewhere."""
    return LabeledSeries("hand", [scores.get(i, rest) for i in range(rows)], [(10, 13)])


@pytest.mark.parametrize(
    ("y", "expected"),
    [(-1.0, SIGMA_MINUS_1), (0.0, 0.0), (1.0, -SIGMA_MINUS_1), (1000.0, -1.0)],
)
def test_scaled_sigmoid_rewards_early_and_punishes_late(y, expected):
    assert scaled_sigmoid(y) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(("rows", "expected"), [(0, 0), (20, 3), (4032, 604), (5000, 750), (100_000, 750)])
def test_probation_is_15_percent_of_the_rows_capped_at_750(rows, expected):
    assert probation_length(rows) == expected


@pytest.mark.parametrize(
    ("profile", "raw"),
    [
        # TP at row 11, a FP at row 5 (no window before it: full cost), a FP at row 16
        ("standard", TP_ROW_11 - 0.11 + 0.11 * FP_ROW_16),  # 0.7484615
        ("reward_low_FP_rate", TP_ROW_11 - 0.22 + 0.22 * FP_ROW_16),  # 0.5299339
        ("reward_low_FN_rate", TP_ROW_11 - 0.11 + 0.11 * FP_ROW_16),
    ],
)
def test_hand_made_case_scores_as_computed_by_hand(profile, raw):
    corpus = Corpus.build([hand_made({5: 0.9, 11: 0.6, 16: 0.7})])

    result = score_at(corpus, PROFILES[profile], 0.5)

    assert result.raw == pytest.approx(raw, abs=1e-6)
    assert (result.windows_detected, result.windows_missed, result.false_positives) == (1, 0, 2)


def test_only_the_earliest_detection_in_a_window_counts():
    corpus = Corpus.build([hand_made({10: 0.6, 11: 0.9, 12: 0.9, 13: 0.9})])

    assert score_at(corpus, STANDARD, 0.5).raw == pytest.approx(1.0)  # row 10 is the window's first row
    assert score_at(corpus, STANDARD, 0.8).raw == pytest.approx(TP_ROW_11, abs=1e-6)


def test_probationary_rows_are_never_scored():
    corpus = Corpus.build([hand_made({0: 1.0, 2: 1.0})])

    assert score_at(corpus, STANDARD, 0.5).false_positives == 0


def test_a_window_inside_probation_is_neither_won_nor_lost_but_still_normalizes():
    corpus = Corpus.build([LabeledSeries("early", [0.0] * 20, [(0, 2)])])

    assert score_at(corpus, STANDARD, 0.5).raw == 0.0
    assert corpus.windows_total == 1


def test_sweep_tries_every_distinct_score_from_nothing_detected_down():
    corpus = Corpus.build([hand_made({5: 0.9, 11: 0.6, 16: 0.7})])

    entries = sweep(corpus, STANDARD)

    assert [e.threshold for e in entries] == [math.inf, 0.9, 0.7, 0.6, 0.0]
    assert [round(e.raw, 6) for e in entries[:4]] == [-1.0, -1.11, round(-1.11 + 0.11 * FP_ROW_16, 6), 0.748462]
    assert best_threshold(corpus, STANDARD).threshold == 0.6
    assert all(e.raw == pytest.approx(score_at(corpus, STANDARD, e.threshold).raw) for e in entries)


def test_normalization_puts_null_at_0_and_perfect_at_100():
    assert normalize(-64.0, 64, STANDARD) == 0.0
    assert normalize(64.0, 64, STANDARD) == 100.0
    assert normalize(-128.0, 64, PROFILES["reward_low_FN_rate"]) == 0.0
    assert score_corpus([hand_made({}, rest=math.nan)])["standard"].normalized == 0.0  # the null detector
    hand = score_corpus([hand_made({5: 0.9, 11: 0.6, 16: 0.7})])["standard"]
    assert hand.normalized == pytest.approx(87.42, abs=0.01)  # 100 * (0.7484615 + 1) / 2


def test_nan_scores_are_never_detections():
    corpus = Corpus.build([hand_made({5: math.nan, 11: 0.6})])

    assert best_threshold(corpus, STANDARD).false_positives == 0


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([(3, 4)], [(1, 2)]),  # bounds on rows
        ([(2.5, 5.5)], [(1, 2)]),  # bounds between rows snap inward
        ([(4, 4), (6, 9)], [(2, 2), (3, 3)]),
        ([(0, 1), (4.5, 5.5), (7, 9)], []),  # no row inside
    ],
)
def test_window_bounds_map_to_inclusive_rows(windows, expected):
    assert window_indices([2, 3, 4, 6], windows) == expected


def test_overlapping_windows_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        Corpus.build([LabeledSeries("bad", [0.0] * 20, [(5, 10), (10, 12)])])


def test_a_custom_profile_weighs_the_same_parts():
    corpus = Corpus.build([hand_made({5: 0.9, 11: 0.6})])

    assert score_at(corpus, CostProfile(tp_weight=2.0, fp_weight=1.0, fn_weight=3.0), 0.5).raw == pytest.approx(
        2 * TP_ROW_11 - 1.0, abs=1e-6
    )


# --- NAB's figures, from the fixtures in ../shared/benchmarks/nab -------------------------------

REFERENCE = {
    ("numenta", "standard"): 75.52,
    ("numenta", "reward_low_FP_rate"): 70.68,
    ("numenta", "reward_low_FN_rate"): 78.99,
    ("windowedGaussian", "standard"): 41.42,
    ("windowedGaussian", "reward_low_FP_rate"): 26.48,
    ("windowedGaussian", "reward_low_FN_rate"): 48.45,
}


@pytest.fixture(scope="module")
def nab_fixture():
    if not (NAB / "results" / "numenta").is_dir():
        require_service(f"NAB benchmark folder at {NAB}")
    from bench.nablib import labeled_results, load_profiles

    series = {det: list(labeled_results(NAB, det)) for det in ("numenta", "windowedGaussian")}
    return series, load_profiles(NAB)


@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
def test_the_sweep_reproduces_the_reference_figures_of_this_subset(nab_fixture, detector):
    series, profiles = nab_fixture

    results = score_corpus(series[detector], profiles)

    assert {p: round(r.normalized, 2) for p, r in results.items()} == {
        p: v for (d, p), v in REFERENCE.items() if d == detector
    }


@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
def test_each_file_scores_as_nab_scored_it_at_the_published_thresholds(nab_fixture, detector):
    series, profiles = nab_fixture
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())[detector]
    corpora = {s.name: Corpus.build([s]) for s in series[detector]}

    checked = 0
    for profile, cost in profiles.items():
        with (NAB / "results" / detector / f"{detector}_{profile}_scores.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["File"] not in corpora:
                    continue  # the Totals row
                result = score_at(corpora[row["File"]], cost, float(thresholds[profile]["threshold"]))
                assert result.raw == pytest.approx(float(row["Score"]), abs=1e-6), (profile, row["File"])
                checked += 1
    assert checked == 3 * len(corpora)
