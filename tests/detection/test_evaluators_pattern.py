"""Known failure patterns in pod states and log lines."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from detection.evaluators import (
    KNOWN_PATTERNS,
    evaluate_log_count,
    evaluate_log_pattern,
    evaluate_pod_pattern,
    restart_counts,
)
from detection.evaluators.pattern import container_key, get_pattern
from detection.sources.base import ContainerState, LogLine, PodState, Sample

OOM_AT = datetime(2023, 11, 14, 22, 10, tzinfo=UTC)


def _pod(name: str, *containers: ContainerState, namespace: str = "shop") -> PodState:
    return PodState(
        name=name,
        namespace=namespace,
        phase="Running",
        ready=all(c.ready for c in containers),
        node="node-a",
        labels={"app": name.split("-")[0]},
        containers=list(containers),
    )


def _container(name: str = "app", restarts: int = 0, **state: Any) -> ContainerState:
    return ContainerState(name=name, ready=not state, restart_count=restarts, **state)


PODS = [
    _pod(
        "checkout-1",
        _container("checkout", 7, waiting_reason="CrashLoopBackOff", last_terminated_reason="Error"),
        _container("envoy"),
    ),
    _pod("checkout-2", _container("checkout", 3, last_terminated_reason="OOMKilled", last_terminated_at=OOM_AT)),
    _pod("payments-1", _container("payments", 0, waiting_reason="ImagePullBackOff")),
    _pod("payments-2", _container("payments", 0, waiting_reason="ErrImagePull")),
    _pod("search-1", _container("search", 0, waiting_reason="CreateContainerConfigError")),
    _pod("worker-1", _container("worker", 1, terminated_reason="OOMKilled")),
    _pod("healthy-1", _container("web", 0)),
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("CrashLoopBackOff", {("checkout-1", "checkout", 7.0)}),
        ("ImagePullBackOff", {("payments-1", "payments", 0.0)}),
        ("ErrImagePull", {("payments-2", "payments", 0.0)}),
        ("CreateContainerConfigError", {("search-1", "search", 0.0)}),
        ("OOMKilled", {("checkout-2", "checkout", 3.0), ("worker-1", "worker", 1.0)}),
    ],
)
def test_each_pod_pattern_finds_exactly_its_containers(pattern: str, expected: set) -> None:
    breaches = evaluate_pod_pattern(PODS, pattern)

    assert {(b.labels["pod"], b.labels["container"], b.value) for b in breaches} == expected
    for breach in breaches:
        assert breach.labels["namespace"] == "shop"
        assert breach.labels["reason"] == pattern
        assert set(breach.labels) == {"namespace", "pod", "container", "reason"}


def test_no_pods_no_breaches() -> None:
    for name, spec in KNOWN_PATTERNS.items():
        if spec.kind == "pod":
            assert evaluate_pod_pattern([], name, previous_restarts={}) == []


@pytest.mark.parametrize(
    ("since", "breaches"),
    [
        (None, 2),
        (datetime(2023, 11, 14, 22, 0, tzinfo=UTC), 2),
        (OOM_AT, 2),  # finished exactly at the cut-off still counts
        (datetime(2023, 11, 14, 22, 30, tzinfo=UTC), 1),  # old last state is history; a current kill is not
        (OOM_AT.timestamp() + 1, 1),
    ],
)
def test_old_oom_kills_are_ignored_after_since(since: float | datetime | None, breaches: int) -> None:
    assert len(evaluate_pod_pattern(PODS, "OOMKilled", since=since)) == breaches


def test_oom_breach_carries_when_it_happened() -> None:
    breach = next(b for b in evaluate_pod_pattern(PODS, "OOMKilled") if b.labels["pod"] == "checkout-2")

    assert breach.timestamp == OOM_AT.timestamp()
    assert breach.details["last_terminated_at"] == OOM_AT.isoformat()


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (None, set()),  # no baseline yet: nothing can be said to rise
        ({}, {("checkout-1", "checkout", 7.0), ("checkout-2", "checkout", 3.0), ("worker-1", "worker", 1.0)}),
        ({"shop/checkout-1/checkout": 7, "shop/checkout-2/checkout": 3, "shop/worker-1/worker": 1}, set()),
        (
            {"shop/checkout-1/checkout": 5, "shop/checkout-2/checkout": 3, "shop/worker-1/worker": 1},
            {("checkout-1", "checkout", 2.0)},
        ),
        # a count that went down means the pod was replaced under the same name: not a rise
        ({"shop/checkout-1/checkout": 9, "shop/checkout-2/checkout": 3, "shop/worker-1/worker": 1}, set()),
    ],
)
def test_restarts_rising_compares_with_the_previous_counts(previous: dict | None, expected: set) -> None:
    breaches = evaluate_pod_pattern(PODS, "RestartsRising", previous_restarts=previous)

    assert {(b.labels["pod"], b.labels["container"], b.value) for b in breaches} == expected


def test_restart_counts_round_trip_as_the_next_baseline() -> None:
    counts = restart_counts(PODS)

    assert counts[container_key("shop", "checkout-1", "checkout")] == 7
    assert counts["shop/healthy-1/web"] == 0
    assert evaluate_pod_pattern(PODS, "RestartsRising", previous_restarts=counts) == []


def test_unknown_or_wrong_kind_of_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pattern"):
        evaluate_pod_pattern(PODS, "Exploded")
    with pytest.raises(ValueError, match="log pattern"):
        evaluate_pod_pattern(PODS, "LogLineMatch")


def test_registry_has_the_documented_patterns() -> None:
    assert set(KNOWN_PATTERNS) == {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "OOMKilled",
        "RestartsRising",
        "CreateContainerConfigError",
        "LogLineMatch",
        "LogCountOverThreshold",
    }
    assert get_pattern(KNOWN_PATTERNS["OOMKilled"]) is KNOWN_PATTERNS["OOMKilled"]


# -- logs ---------------------------------------------------------------------------------------


def _line(ns: int, text: str, pod: str = "checkout-1") -> LogLine:
    return LogLine(labels={"app": "checkout", "pod": pod}, timestamp=ns / 1e9, line=text, timestamp_ns=ns)


LINES = [
    _line(1_000, "level=error msg=timeout"),
    _line(2_000, "level=info msg=ok"),
    _line(3_000, "level=error msg=timeout again"),
    _line(4_000, "level=error msg=timeout", pod="checkout-2"),
    _line(5_000, "panic: nil pointer dereference", pod="checkout-2"),
]


@pytest.mark.parametrize(
    ("regex", "min_count", "expected"),
    [
        (r"level=error", 1, {"checkout-1": 2.0, "checkout-2": 1.0}),
        (r"level=error", 2, {"checkout-1": 2.0}),  # exactly at min_count breaches
        (r"level=error", 3, {}),
        (r"(?i)PANIC", 1, {"checkout-2": 1.0}),
        (r"nothing matches this", 1, {}),
        (re.compile(r"timeout$"), 1, {"checkout-1": 1.0, "checkout-2": 1.0}),
    ],
)
def test_log_pattern_counts_matches_per_stream(regex: str | re.Pattern[str], min_count: int, expected: dict) -> None:
    breaches = evaluate_log_pattern(LINES, regex, min_count)

    assert {b.labels["pod"]: b.value for b in breaches} == expected


def test_log_pattern_breach_shows_the_newest_matching_line() -> None:
    (breach,) = [b for b in evaluate_log_pattern(LINES, "level=error") if b.labels["pod"] == "checkout-1"]

    assert breach.details["example"] == "level=error msg=timeout again"
    assert breach.timestamp == pytest.approx(3_000 / 1e9)


def test_log_pattern_on_no_lines_is_empty() -> None:
    assert evaluate_log_pattern([], "error", 1) == []


def test_default_log_regex_catches_panics() -> None:
    default = KNOWN_PATTERNS["LogLineMatch"].default_regex
    assert [b.labels["pod"] for b in evaluate_log_pattern(LINES, default)] == ["checkout-2"]


@pytest.mark.parametrize(("regex", "min_count"), [("(unclosed", 1), ("ok", 0)])
def test_invalid_log_pattern_settings_are_refused(regex: str, min_count: int) -> None:
    with pytest.raises(ValueError):
        evaluate_log_pattern(LINES, regex, min_count)


@pytest.mark.parametrize(
    ("value", "breaches"),
    [(10.0, True), (9.999, False), (11.0, True), (math.nan, False), (math.inf, True)],
)
def test_logql_count_at_or_over_the_threshold(value: float, breaches: bool) -> None:
    samples = [Sample(labels={"app": "checkout"}, value=value, timestamp=1.0)]

    assert len(evaluate_log_count(samples, 10)) == int(breaches)
