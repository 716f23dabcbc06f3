from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detection.alert_states import FIRING, INACTIVE, PENDING, RESOLVED, AlertSnapshot, next_snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(breaches: list[bool], *, for_seconds: int, keep: int = 0, step: int = 1) -> list[str]:
    snapshot, states = AlertSnapshot(), []
    for i, breaching in enumerate(breaches):
        snapshot = next_snapshot(
            snapshot, breaching=breaching, now=at(i * step), for_seconds=for_seconds, keep_firing_for_seconds=keep
        )
        states.append(snapshot.state)
    return states


@pytest.mark.parametrize(
    ("breaches", "for_seconds", "keep", "expected"),
    [
        ([True], 0, 0, [FIRING]),
        ([True, True, True], 2, 0, [PENDING, PENDING, FIRING]),
        ([True, False, True], 2, 0, [PENDING, INACTIVE, PENDING]),
        ([True, True, True, False], 2, 0, [PENDING, PENDING, FIRING, RESOLVED]),
        ([True, False, False, False], 0, 2, [FIRING, FIRING, RESOLVED, RESOLVED]),
        ([True, False, True, False, False, False], 0, 2, [FIRING, FIRING, FIRING, FIRING, RESOLVED, RESOLVED]),
        ([True, False, True], 0, 0, [FIRING, RESOLVED, FIRING]),
        ([False, False], 0, 0, [INACTIVE, INACTIVE]),
        ([True, True, False, True, True], 1, 0, [PENDING, FIRING, RESOLVED, PENDING, FIRING]),
    ],
    ids=[
        "for-zero-fires-at-once",
        "fires-exactly-when-for-elapsed",
        "pending-that-clears-vanishes",
        "firing-that-clears-resolves",
        "keep-firing-for-holds-then-resolves",
        "a-new-breach-restarts-keep-firing-for",
        "resolved-breaching-again-fires-again",
        "never-breaching-stays-inactive",
        "resolved-alert-starts-over-at-pending",
    ],
)
def test_alert_states_follow_prometheus_semantics(breaches, for_seconds, keep, expected):
    assert run(breaches, for_seconds=for_seconds, keep=keep) == expected


def test_firing_keeps_the_time_the_breach_began_and_when_it_fired():
    first = next_snapshot(AlertSnapshot(), breaching=True, now=at(0), for_seconds=5, keep_firing_for_seconds=0)
    fired = next_snapshot(first, breaching=True, now=at(5), for_seconds=5, keep_firing_for_seconds=0)

    assert fired.state == FIRING
    assert fired.active_since == at(0)
    assert fired.fired_at == at(5)
    assert fired.last_breach_at == at(5)
