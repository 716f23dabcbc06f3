"""Grouping accuracy (log template mining) and AS@k (root-cause ranking) on hand-made cases."""

from __future__ import annotations

import pytest

from correlation.quality import as_at_k, grouping_accuracy


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        (["A", "A", "B"], [1, 1, 2], 1.0),
        (["A", "A", "B"], [1, 1, 1], 0.0),  # merged: no predicted group equals a true one
        (["A", "A", "B"], [1, 2, 3], 1 / 3),  # split: only B's line is grouped exactly
        (["A", "B"], ["B", "A"], 1.0),  # labels are names only
        # {0,1} is part of A, {2} the rest of A: wrong; {3,4} is B and {5} is C: right
        (["A", "A", "A", "B", "B", "C"], [1, 1, 2, 3, 3, 4], 0.5),
        (["A", "A", "B", "C"], [1, 1, 2, 2], 0.5),
        ([], [], 1.0),
    ],
)
def test_grouping_accuracy_counts_lines_whose_group_is_exactly_their_true_group(truth, predicted, expected):
    assert grouping_accuracy(truth, predicted) == pytest.approx(expected)


def test_grouping_accuracy_needs_one_prediction_per_line():
    with pytest.raises(ValueError, match="2 true labels but 1 predicted"):
        grouping_accuracy(["A", "B"], [1])


RANKINGS = [["db", "api", "cache"], ["api", "db", "cache"], ["cache", "api", "db"], ["web"]]
TRUTHS = ["db", "db", "db", "db"]


@pytest.mark.parametrize(("k", "expected"), [(1, 0.25), (2, 0.5), (3, 0.75), (10, 0.75)])
def test_as_at_k_is_the_share_of_cases_with_the_root_cause_in_the_top_k(k, expected):
    assert as_at_k(RANKINGS, TRUTHS, k) == expected


@pytest.mark.parametrize(
    ("rankings", "truths", "k", "expected"),
    [
        ([["a", "b"]], [{"b", "z"}], 2, 1.0),  # several root causes: any one counts
        ([["a", "b"]], [{"b", "z"}], 1, 0.0),
        ([["a", "b"]], ["ab"], 2, 0.0),  # a string is one service name, not a set of letters
        ([[]], ["a"], 1, 0.0),  # nothing ranked
        ([], [], 1, 0.0),
    ],
)
def test_as_at_k_edge_cases(rankings, truths, k, expected):
    assert as_at_k(rankings, truths, k) == expected


@pytest.mark.parametrize(("rankings", "truths", "k"), [([["a"]], ["a"], 0), ([["a"]], [], 1)])
def test_as_at_k_rejects_bad_input(rankings, truths, k):
    with pytest.raises(ValueError):
        as_at_k(rankings, truths, k)
