"""The hypothesis and step state machines, as tables."""

from __future__ import annotations

import pytest

from investigation import transitions
from investigation.transitions import Kind

H = ("proposed", "investigating", "confirmed", "rejected")
S = ("pending", "in_progress", "completed", "failed")


@pytest.mark.parametrize(
    ("current", "target", "kind"),
    [
        ("proposed", "investigating", Kind.STEP),
        ("proposed", "rejected", Kind.DISMISS),
        ("proposed", "confirmed", None),  # untested: investigate first
        ("investigating", "confirmed", Kind.STEP),
        ("investigating", "rejected", Kind.STEP),
        ("investigating", "proposed", None),
        ("confirmed", "investigating", Kind.REOPEN),
        ("confirmed", "rejected", None),  # final unless reopened
        ("rejected", "confirmed", None),
        ("rejected", "investigating", Kind.REOPEN),
        ("rejected", "proposed", None),
    ],
)
def test_hypothesis_transitions(current, target, kind):
    verdict = transitions.check_hypothesis(current, target)
    assert (verdict.allowed, verdict.kind) == (kind is not None, kind)


@pytest.mark.parametrize("status", H)
def test_a_hypothesis_already_in_a_status_is_not_a_transition(status):
    assert transitions.check_hypothesis(status, status).same


def test_allowed_hypothesis_targets_read_in_lifecycle_order():
    assert transitions.hypothesis_targets("investigating") == ["confirmed", "rejected"]
    assert transitions.hypothesis_targets("confirmed") == ["investigating"]
    assert transitions.hypothesis_targets("nonsense") == []


@pytest.mark.parametrize(
    ("current", "target", "manual", "kind"),
    [
        ("pending", "in_progress", False, Kind.STEP),
        ("pending", "completed", False, None),
        ("pending", "completed", True, Kind.RECORD),
        ("pending", "failed", True, Kind.RECORD),
        ("in_progress", "completed", False, Kind.STEP),
        ("in_progress", "failed", False, Kind.STEP),
        ("in_progress", "pending", True, None),
        ("failed", "in_progress", False, Kind.REOPEN),
        ("failed", "completed", True, None),
        ("completed", "in_progress", False, None),
        ("completed", "failed", True, None),
    ],
)
def test_step_transitions(current, target, manual, kind):
    verdict = transitions.check_step(current, target, manual=manual)
    assert (verdict.allowed, verdict.kind) == (kind is not None, kind)


def test_step_targets_include_recording_for_manual_steps_only():
    assert transitions.step_targets("pending", manual=False) == ["in_progress"]
    assert transitions.step_targets("pending", manual=True) == ["in_progress", "completed", "failed"]
    assert transitions.step_targets("completed", manual=True) == []


def test_runnable_and_open_sets():
    assert sorted(transitions.RUNNABLE) == ["failed", "pending"]
    assert sorted(transitions.OPEN_HYPOTHESIS) == ["investigating", "proposed"]
    assert [s for s in S if transitions.is_finished(s)] == ["completed", "failed"]
    assert [h for h in H if transitions.is_concluded(h)] == ["confirmed", "rejected"]
