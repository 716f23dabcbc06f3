from __future__ import annotations

import pytest

from incidents import transitions
from incidents.models import Status
from incidents.transitions import Kind

OPEN, INVESTIGATING, MITIGATED, RESOLVED = Status.OPEN, Status.INVESTIGATING, Status.MITIGATED, Status.RESOLVED


@pytest.mark.parametrize(
    ("current", "target", "kind", "needs_note", "false_positive"),
    [
        (OPEN, INVESTIGATING, Kind.STEP, False, False),
        (INVESTIGATING, MITIGATED, Kind.STEP, False, False),
        (MITIGATED, RESOLVED, Kind.STEP, False, False),
        (OPEN, MITIGATED, Kind.SKIP, True, False),
        (OPEN, RESOLVED, Kind.SKIP, True, True),
        (INVESTIGATING, RESOLVED, Kind.SKIP, True, False),
        (RESOLVED, INVESTIGATING, Kind.REOPEN, False, False),
    ],
)
def test_allowed_transitions_say_what_they_need(current, target, kind, needs_note, false_positive):
    verdict = transitions.check(current, target)

    assert verdict.allowed
    assert verdict.kind is kind
    assert verdict.needs_note is needs_note
    assert verdict.false_positive is false_positive
    assert transitions.can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (INVESTIGATING, OPEN),
        (MITIGATED, OPEN),
        (MITIGATED, INVESTIGATING),
        (RESOLVED, OPEN),
        (RESOLVED, MITIGATED),
        (OPEN, "closed"),
        ("unknown", OPEN),
    ],
)
def test_backward_and_unknown_transitions_are_not_allowed(current, target):
    verdict = transitions.check(current, target)

    assert not verdict.allowed
    assert not verdict.same
    assert not transitions.can_transition(current, target)


@pytest.mark.parametrize("status", list(Status))
def test_a_transition_to_the_same_status_is_flagged_as_same_not_as_forbidden(status):
    verdict = transitions.check(status, status)

    assert not verdict.allowed
    assert verdict.same


def test_allowed_targets_are_listed_in_lifecycle_order():
    assert transitions.allowed_targets(OPEN) == ["investigating", "mitigated", "resolved"]
    assert transitions.allowed_targets(INVESTIGATING) == ["mitigated", "resolved"]
    assert transitions.allowed_targets(MITIGATED) == ["resolved"]
    assert transitions.allowed_targets(RESOLVED) == ["investigating"]
    assert transitions.allowed_targets("nonsense") == []


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        (OPEN, INVESTIGATING, True),
        (OPEN, RESOLVED, True),
        (INVESTIGATING, MITIGATED, False),
        (RESOLVED, INVESTIGATING, False),
    ],
)
def test_only_leaving_open_acknowledges(current, target, expected):
    assert transitions.leaves_open(current, target) is expected


def test_every_status_has_an_entry_in_the_map():
    assert set(transitions.ALLOWED) == set(Status.values)
