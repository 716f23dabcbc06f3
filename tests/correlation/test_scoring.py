"""Scoring and ranking: each factor, table-driven, and the orderings the issue asks for."""

from __future__ import annotations

import math

import pytest

from correlation.scoring import (
    CANDIDATE_MIN,
    Finding,
    Weights,
    agreement_factor,
    dependency_factor,
    rank_services,
    score_findings,
    symptom_onset,
    temporal_factor,
    time_scale,
)

T = 1_700_000_000.0
SHOP = {"frontend": ["checkout"], "checkout": ["payments"], "payments": [], "search": []}


def f(service="checkout", kind="metrics", signal="error_ratio", onset=T, magnitude=0.9, specificity=0.6, **kw):
    return Finding(service=service, kind=kind, signal=signal, onset=onset, magnitude=magnitude,
                   specificity=specificity, **kw)


@pytest.mark.parametrize(
    "onset, expected, why",
    [
        (T, 0.5, "began with the symptom"),
        (T - 60, 0.5 + 0.5 * math.tanh(1), "began 60 s before the symptom"),
        (T + 60, 0.5 - 0.5 * math.tanh(1), "began 60 s after the symptom"),
        (T - 3 * 3600, 1.0, "began 3.0 h before the symptom"),
        (None, 0.4, "when it began is unknown"),
    ],
)
def test_temporal_factor(onset, expected, why):
    factor = temporal_factor(f(onset=onset), symptom_start=T, tau=60.0, weight=0.3)
    assert factor.value == pytest.approx(expected)
    assert factor.why == why
    assert factor.contribution == pytest.approx(expected * 0.3)


def test_an_upper_bound_onset_says_at_least():
    finding = f(kind="infrastructure", signal="crash_loop", onset=T - 180, onset_is_upper_bound=True)
    assert temporal_factor(finding, T, 60.0, 0.3).why == "began at least 3 min before the symptom"


@pytest.mark.parametrize(
    "onsets, expected",
    [([T], 60.0), ([T - 30], 60.0), ([T - 600, T], 300.0), ([None], 60.0), ([T + 900], 60.0)],
)
def test_time_scale_follows_the_spread_of_onsets(onsets, expected):
    assert time_scale([f(onset=o) for o in onsets], symptom_start=T) == expected


@pytest.mark.parametrize(
    "others, expected",
    [
        ([], 0.0),
        ([f(kind="logs", signal="new_log_template")], 0.5),
        ([f(kind="logs", signal="x"), f(kind="change", signal="rollout")], 0.75),
        ([f(signal="p95_latency")], 1 - 0.5**0.5),  # another signal of the same kind counts half
        ([f(service="payments", kind="logs", signal="x")], 0.0),  # another service does not count
    ],
)
def test_agreement_factor(others, expected):
    finding = f()
    by_service: dict[str, list[Finding]] = {}
    for item in [finding, *others]:
        by_service.setdefault(item.service, []).append(item)
    assert agreement_factor(finding, by_service, 0.1).value == pytest.approx(expected)


@pytest.mark.parametrize(
    "finding, others, expected",
    [
        (f(service="checkout"), [], 0.6),
        (f(service="payments"), [], 0.8),
        (f(service="frontend"), [], 0.3),
        (f(service="search"), [], 0.2),
        # A dependency that went bad before its caller is the likelier cause...
        (f(service="payments", onset=T - 10), [f(service="checkout", onset=T)], 1.0),
        # ...and the caller, whose dependency went bad first, the likelier effect.
        (f(service="checkout", onset=T), [f(service="payments", onset=T - 10)], 0.3),
        # A dependency's rollout is a change, not "going bad": it does not explain the caller away.
        (f(service="checkout", onset=T), [f(service="payments", kind="change", signal="rollout", onset=T - 10)], 0.6),
        # Latency and errors reach the callers within one sample: at the same moment, the
        # dependency still explains them...
        (f(service="checkout", onset=T), [f(service="payments", onset=T)], 0.3),
        (f(service="checkout", signal="p95_latency", onset=T), [f(service="payments", signal="cpu", onset=T)], 0.3),
        # ...but not the caller's own CPU, which must have gone bad strictly later to be explained.
        (f(service="checkout", signal="cpu", onset=T), [f(service="payments", onset=T)], 0.6),
        # A dependency that went bad after the caller explains nothing.
        (f(service="checkout", onset=T), [f(service="payments", onset=T + 10)], 0.6),
        (f(service="checkout", onset=None), [f(service="payments", onset=T - 10)], 0.6),
    ],
)
def test_dependency_factor(finding, others, expected):
    by_service: dict[str, list[Finding]] = {}
    for item in [finding, *others]:
        by_service.setdefault(item.service, []).append(item)
    factor = dependency_factor(finding, SHOP, "checkout", by_service, 0.15)
    assert factor.value == pytest.approx(expected), factor.why


def test_rollout_and_crash_rank_above_the_errors_they_cause():
    rollout = f(kind="change", signal="rollout", key="change:checkout:12", onset=T - 600, magnitude=1.0,
                specificity=0.9)
    crash = f(kind="infrastructure", signal="crash_loop", onset=T - 180, magnitude=0.8, specificity=0.85)
    errors = f(onset=T, magnitude=0.95)

    ranked = score_findings([errors, crash, rollout], SHOP, symptom_service="checkout", symptom_start=T)

    assert [s.finding.signal for s in ranked] == ["rollout", "crash_loop", "error_ratio"]
    assert [s.rank for s in ranked] == [1, 2, 3]
    assert [s.is_root_cause_candidate for s in ranked] == [True, True, False]
    assert ranked[2].is_symptom
    for s in ranked:
        assert s.confidence == pytest.approx(sum(x.contribution for x in s.factors), abs=0.001)
        assert [x.name for x in s.factors] == ["temporal", "magnitude", "specificity", "agreement", "dependency"]


def test_a_dependency_failing_first_ranks_above_the_symptom_service():
    payments = f(service="payments", onset=T - 5)
    checkout = f(service="checkout", onset=T)
    onset = symptom_onset([payments, checkout], "checkout", fallback=T + 100)

    ranked = score_findings([checkout, payments], SHOP, symptom_service="checkout", symptom_start=onset)

    assert onset == T
    assert [s.finding.service for s in ranked] == ["payments", "checkout"]
    assert ranked[0].is_root_cause_candidate and not ranked[1].is_root_cause_candidate


def test_of_two_services_slowing_in_the_same_sample_the_dependency_ranks_above_its_caller():
    checkout = f(service="checkout", signal="p95_latency", onset=T)
    payments = f(service="payments", signal="p95_latency", onset=T)

    causes = rank_services([checkout, payments], SHOP, symptom_service="frontend", symptom_start=T)

    assert [c.service for c in causes] == ["payments", "checkout"]
    dependency = {x.name: x for x in causes[1].factors}["dependency"]
    assert dependency.value == pytest.approx(0.4)
    assert dependency.why.endswith("its dependency payments went bad at the same time")


def test_nothing_in_nothing_out():
    assert score_findings([], SHOP, symptom_service="checkout", symptom_start=T) == []
    assert rank_services({}, SHOP, symptom_service="checkout", symptom_start=T) == []


def test_the_symptom_alone_is_its_own_best_guess_when_strong_enough():
    ranked = score_findings([f(onset=T)], SHOP, symptom_service="checkout", symptom_start=T)
    assert ranked[0].confidence >= CANDIDATE_MIN and ranked[0].is_root_cause_candidate

    weak = score_findings([f(onset=T, magnitude=0.0, specificity=0.0)], SHOP, symptom_service="checkout",
                          symptom_start=T)
    assert not weak[0].is_root_cause_candidate


def test_the_same_key_twice_keeps_the_stronger_and_ties_break_by_onset_then_kind():
    weak, strong = f(magnitude=0.2), f(magnitude=0.9)
    assert [s.finding.magnitude for s in score_findings([weak, strong], {}, symptom_service=None,
                                                         symptom_start=T)] == [0.9]
    a = f(service="a", kind="logs", signal="x", onset=T - 10)
    b = f(service="b", kind="change", signal="x", onset=T - 10)
    ranked = score_findings([a, b], {}, symptom_service=None, symptom_start=T, weights=Weights(
        temporal=0.2, magnitude=0.2, specificity=0.2, agreement=0.2, dependency=0.2))
    assert [s.finding.kind for s in ranked] == ["change", "logs"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 7.0])
def test_findings_clamp_their_inputs(bad):
    finding = Finding(service="x", kind="metrics", signal="s", onset=bad if math.isnan(bad) else None,
                      magnitude=bad, specificity=bad)
    assert 0.0 <= finding.magnitude <= 1.0 and 0.0 <= finding.specificity <= 1.0
    assert finding.onset is None


def test_unknown_kinds_and_bad_weights_are_refused():
    with pytest.raises(ValueError):
        Finding(service="x", kind="rumour", signal="s")
    with pytest.raises(ValueError):
        Weights(temporal=1.0)


def test_rank_services_takes_a_mapping_and_ranks_by_best_finding():
    findings = {
        "payments": [f(service="payments", onset=T - 30), f(service="payments", kind="logs", signal="x", onset=T - 25)],
        "checkout": [f(service="checkout", onset=T)],
        "frontend": [f(service="frontend", onset=T + 5)],
    }
    causes = rank_services(findings, SHOP, symptom_service="checkout", symptom_start=T)
    assert [(c.service, c.rank) for c in causes] == [("payments", 1), ("checkout", 2), ("frontend", 3)]
    assert causes[0].best.finding.service == "payments"
    assert causes[0].confidence == causes[0].best.confidence
    assert {x.name for x in causes[0].factors} == {"temporal", "magnitude", "specificity", "agreement", "dependency"}
