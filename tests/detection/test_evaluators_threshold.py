"""Threshold evaluation and fingerprints: pure functions, table-driven, edge values included."""

from __future__ import annotations

import math

import pytest

from detection.evaluators import COMPARATORS, compare, evaluate_threshold, fingerprint, normalize_comparator
from detection.sources.base import Sample

INF, NAN = math.inf, math.nan


def _sample(value: float, ts: float = 100.0, **labels: str) -> Sample:
    return Sample(labels=labels or {"service": "checkout"}, value=value, timestamp=ts)


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "breaches"),
    [
        # exactly at the threshold follows the comparator
        (5.0, ">", 5.0, False),
        (5.0, ">=", 5.0, True),
        (5.0, "<", 5.0, False),
        (5.0, "<=", 5.0, True),
        (5.0, "==", 5.0, True),
        (5.0, "!=", 5.0, False),
        # either side
        (5.1, ">", 5.0, True),
        (4.9, ">", 5.0, False),
        (4.9, "<", 5.0, True),
        (5.1, "<=", 5.0, False),
        (4.0, "!=", 5.0, True),
        (0.0, ">=", 0.0, True),
        (-0.0, "==", 0.0, True),
        # NaN never breaches, whatever the comparator
        (NAN, ">", 5.0, False),
        (NAN, ">=", 5.0, False),
        (NAN, "<", 5.0, False),
        (NAN, "<=", 5.0, False),
        (NAN, "==", 5.0, False),
        (NAN, "!=", 5.0, False),
        # infinities compare like the numbers they are
        (INF, ">", 5.0, True),
        (INF, "<", 5.0, False),
        (-INF, "<", 5.0, True),
        (-INF, ">=", 5.0, False),
        (INF, ">=", INF, True),
        (INF, "!=", INF, False),
        (5.0, "<", INF, True),
        (5.0, ">", -INF, True),
    ],
)
def test_one_value_against_the_threshold(value: float, comparator: str, threshold: float, breaches: bool) -> None:
    assert compare(value, comparator, threshold) is breaches
    result = evaluate_threshold([_sample(value)], comparator, threshold)
    assert len(result) == int(breaches)
    if breaches:
        assert result[0].value == value
        assert result[0].labels == {"service": "checkout"}
        assert result[0].timestamp == 100.0


def test_empty_result_breaches_nothing() -> None:
    assert evaluate_threshold([], ">", 0.0) == []


def test_one_breach_per_label_set_with_its_own_value() -> None:
    samples = [
        _sample(0.20, service="checkout", route="/pay"),
        _sample(0.01, service="checkout", route="/cart"),
        _sample(0.07, service="payments", route="/charge"),
        _sample(NAN, service="search", route="/q"),
    ]

    breaches = evaluate_threshold(samples, ">", 0.05)

    assert {(b.labels["service"], b.labels["route"]): b.value for b in breaches} == {
        ("checkout", "/pay"): 0.20,
        ("payments", "/charge"): 0.07,
    }


def test_duplicate_label_sets_keep_only_the_newest_sample() -> None:
    samples = [_sample(9.0, ts=200.0), _sample(1.0, ts=100.0)]

    (breach,) = evaluate_threshold(samples, ">", 5.0)
    assert (breach.value, breach.timestamp) == (9.0, 200.0)
    assert evaluate_threshold([*samples, _sample(1.0, ts=300.0)], ">", 5.0) == []


def test_breach_labels_are_a_copy() -> None:
    sample = _sample(10.0)
    (breach,) = evaluate_threshold([sample], ">", 1.0)
    breach.labels["service"] = "changed"
    assert sample.labels["service"] == "checkout"


@pytest.mark.parametrize(
    ("alias", "symbol"),
    [("gt", ">"), ("GTE", ">="), ("ge", ">="), ("lt", "<"), ("lte", "<="), ("le", "<="), ("eq", "=="), ("ne", "!=")]
    + [(s, s) for s in COMPARATORS]
    + [(" >= ", ">=")],
)
def test_comparator_spellings(alias: str, symbol: str) -> None:
    assert normalize_comparator(alias) == symbol


@pytest.mark.parametrize("bad", ["", "=>", "greater", "=", "<>"])
def test_unknown_comparator_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown comparator"):
        evaluate_threshold([_sample(1.0)], bad, 0.0)


def test_nan_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        evaluate_threshold([_sample(1.0)], ">", NAN)


# -- fingerprints -----------------------------------------------------------------------------


def test_fingerprint_ignores_label_order_and_is_a_sha256() -> None:
    a = fingerprint(7, {"service": "checkout", "route": "/pay"})
    b = fingerprint("7", {"route": "/pay", "service": "checkout"})

    assert a == b
    assert len(a) == 64 and int(a, 16) >= 0


def test_fingerprint_is_stable_across_releases() -> None:
    # Open incidents are keyed by this value: changing the recipe would re-open every one of them.
    assert fingerprint(1, {"a": "b"}) == "e22a9ab607aa1d90859411234dfbde0fef6c5bbf64afea80df94c35403112e4e"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ((1, {"service": "checkout"}), (2, {"service": "checkout"})),
        ((1, {"service": "checkout"}), (1, {"service": "payments"})),
        ((1, {"a": "b,c=d"}), (1, {"a": "b", "c": "d"})),
        ((1, {}), (1, {"": ""})),
    ],
)
def test_different_rules_or_labels_never_share_a_fingerprint(left: tuple, right: tuple) -> None:
    assert fingerprint(*left) != fingerprint(*right)
