"""Step parameters per action, and the window a step looks at: pure checks, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from investigation import actions
from investigation.actions.base import ParameterError, resolve_window

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "parameters", "expected"),
    [
        ("check_metrics", {}, {}),
        ("check_metrics", None, {}),
        ("check_metrics", {"query": " up "}, {"query": "up"}),
        ("check_metrics", {"signals": ["p95_latency", "p95_latency"]}, {"signals": ["p95_latency"]}),
        (
            "check_metrics",
            {"scope": "dependencies", "rate_window": "30s"},
            {"scope": "dependencies", "rate_window": "30s"},
        ),
        ("investigate_logs", {"contains": "timeout", "limit": 50}, {"contains": "timeout", "limit": 50}),
        ("check_kubernetes", {"include": ["pods"], "namespace": "shop"}, {"include": ["pods"], "namespace": "shop"}),
        ("check_traces", {"top": 3}, {"top": 3}),
        (
            "test_hypothesis",
            {"signal": "error_ratio", "comparator": "gt", "threshold": 0.05},
            {"signal": "error_ratio", "comparator": ">", "threshold": 0.05},
        ),
        ("manual", {"instructions": "Ask the DBA"}, {"instructions": "Ask the DBA"}),
        ("check_metrics", {"window": {"minutes": 30}}, {"window": {"minutes": 30}}),
        (
            "check_metrics",
            {"window": {"start": "2024-05-01T11:00:00Z", "end": "2024-05-01T12:00:00Z"}},
            {"window": {"start": "2024-05-01T11:00:00+00:00", "end": "2024-05-01T12:00:00+00:00"}},
        ),
        (
            "check_metrics",
            {"source": "prometheus", "service": "checkout"},
            {"source": "prometheus", "service": "checkout"},
        ),
    ],
)
def test_good_parameters_are_cleaned(action, parameters, expected):
    assert actions.clean_parameters(action, parameters) == expected


@pytest.mark.parametrize(
    ("action", "parameters", "key"),
    [
        ("check_metrics", [], "parameters"),
        ("check_metrics", {"querry": "up"}, "querry"),
        ("check_metrics", {"query": ""}, "query"),
        ("check_metrics", {"query": "up", "signals": ["error_ratio"]}, "signals"),
        ("check_metrics", {"signals": ["saturation"]}, "signals"),
        ("check_metrics", {"scope": "everything"}, "scope"),
        ("check_metrics", {"rate_window": "1 minute"}, "rate_window"),
        ("check_metrics", {"window": {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T11:00:00Z"}}, "window"),
        ("check_metrics", {"window": {"start": "yesterday"}}, "window.start"),
        ("check_metrics", {"window": {"minutes": 0}}, "window.minutes"),
        ("check_metrics", {"window": {"minutes": float("nan")}}, "window.minutes"),
        ("check_metrics", {"window": "15m"}, "window"),
        ("check_metrics", {"source": True}, "source"),
        ("check_metrics", {"service": "Check Out!"}, "service"),
        ("check_metrics", {"query": "x" * 5000}, "query"),
        ("investigate_logs", {"pattern": "(unclosed"}, "pattern"),
        ("investigate_logs", {"query": '{app="x"}', "contains": "y"}, "query"),
        ("investigate_logs", {"limit": 0}, "limit"),
        ("investigate_logs", {"limit": 5000}, "limit"),
        ("check_kubernetes", {"include": ["nodes"]}, "include"),
        ("check_traces", {"top": 100}, "top"),
        ("test_hypothesis", {"comparator": ">", "threshold": 1}, "query"),
        ("test_hypothesis", {"query": "up", "signal": "error_ratio", "comparator": ">", "threshold": 1}, "query"),
        ("test_hypothesis", {"signal": "errors", "comparator": ">", "threshold": 1}, "signal"),
        ("test_hypothesis", {"signal": "error_ratio", "comparator": "~", "threshold": 1}, "comparator"),
        ("test_hypothesis", {"signal": "error_ratio", "comparator": ">"}, "threshold"),
        ("test_hypothesis", {"signal": "error_ratio", "comparator": ">", "threshold": float("inf")}, "threshold"),
        (
            "test_hypothesis",
            {"signal": "error_ratio", "comparator": ">", "threshold": 1, "aggregate": "p99"},
            "aggregate",
        ),
        ("manual", {"instructions": 3}, "instructions"),
        ("manual", {"query": "up"}, "query"),
    ],
)
def test_bad_parameters_name_the_key(action, parameters, key):
    with pytest.raises(ParameterError) as caught:
        actions.clean_parameters(action, parameters)
    assert caught.value.key == key
    assert caught.value.message


@pytest.mark.parametrize(
    ("raw", "resolved_at", "start", "end"),
    [
        # By default: from 15 minutes before detection to now.
        (None, None, T0 - timedelta(minutes=15), T0 + timedelta(hours=1)),
        # ... or to the resolution.
        (None, T0 + timedelta(minutes=30), T0 - timedelta(minutes=15), T0 + timedelta(minutes=30)),
        ({"minutes": 5}, None, T0 + timedelta(minutes=55), T0 + timedelta(hours=1)),
        (
            {"start": "2024-05-01T11:00:00Z", "end": "2024-05-01T11:30:00Z"},
            None,
            T0 - timedelta(hours=1),
            T0 - timedelta(minutes=30),
        ),
        # An end in the future is now.
        ({"end": "2030-01-01T00:00:00Z"}, None, T0 - timedelta(minutes=15), T0 + timedelta(hours=1)),
        # A window that ends before it starts is the last minute.
        ({"start": "2024-05-01T13:30:00Z"}, None, T0 + timedelta(minutes=59), T0 + timedelta(hours=1)),
        # At most a week.
        ({"start": "2024-01-01T00:00:00Z"}, None, T0 + timedelta(hours=1) - timedelta(days=7), T0 + timedelta(hours=1)),
    ],
)
def test_the_window(raw, resolved_at, start, end):
    window = resolve_window(raw, detected_at=T0, resolved_at=resolved_at, now=T0 + timedelta(hours=1))
    assert (window.start, window.end) == (start, end)


def test_each_automated_action_asks_its_kind_of_source():
    assert {a: actions.source_kind(a) for a in actions.ACTIONS} == {
        "investigate_logs": "loki",
        "check_metrics": "prometheus",
        "check_kubernetes": "kubernetes",
        "check_traces": "prometheus",
        "test_hypothesis": "prometheus",
    }
    assert actions.source_kind("manual") is None
