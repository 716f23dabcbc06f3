"""Which status may follow which, for hypotheses and steps. Pure: no database, no clock.

Hypotheses::

    proposed ─► investigating ─► confirmed | rejected     confirmed | rejected ─► investigating (reopen)
        └──────── rejected (dismissed without testing) ──┘

Steps::

    pending ─► in_progress ─► completed | failed          failed ─► in_progress (run again)
    manual steps only: pending ─► completed | failed      (what the operator found, recorded after the fact)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from investigation.models import HypothesisStatus, StepStatus


class Kind(StrEnum):
    STEP = "step"  # the next status
    DISMISS = "dismiss"  # a proposed hypothesis rejected without testing it
    REOPEN = "reopen"  # a concluded hypothesis, or a failed step, back to work
    RECORD = "record"  # a manual step's result recorded without having been started


# Targets in lifecycle order, so error messages list them the way people read the lifecycle.
HYPOTHESIS_ALLOWED: dict[str, dict[str, Kind]] = {
    HypothesisStatus.PROPOSED: {HypothesisStatus.INVESTIGATING: Kind.STEP, HypothesisStatus.REJECTED: Kind.DISMISS},
    HypothesisStatus.INVESTIGATING: {HypothesisStatus.CONFIRMED: Kind.STEP, HypothesisStatus.REJECTED: Kind.STEP},
    HypothesisStatus.CONFIRMED: {HypothesisStatus.INVESTIGATING: Kind.REOPEN},
    HypothesisStatus.REJECTED: {HypothesisStatus.INVESTIGATING: Kind.REOPEN},
}

STEP_ALLOWED: dict[str, dict[str, Kind]] = {
    StepStatus.PENDING: {StepStatus.IN_PROGRESS: Kind.STEP},
    StepStatus.IN_PROGRESS: {StepStatus.COMPLETED: Kind.STEP, StepStatus.FAILED: Kind.STEP},
    StepStatus.FAILED: {StepStatus.IN_PROGRESS: Kind.REOPEN},
    StepStatus.COMPLETED: {},
}
MANUAL_STEP_EXTRA: dict[str, dict[str, Kind]] = {
    StepStatus.PENDING: {StepStatus.COMPLETED: Kind.RECORD, StepStatus.FAILED: Kind.RECORD},
}

# Statuses from which an automated step may be (re)run.
RUNNABLE = frozenset({StepStatus.PENDING, StepStatus.FAILED})
OPEN_HYPOTHESIS = frozenset({HypothesisStatus.PROPOSED, HypothesisStatus.INVESTIGATING})


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    kind: Kind | None = None
    same: bool = False


def hypothesis_targets(current: str) -> list[str]:
    return [str(target) for target in HYPOTHESIS_ALLOWED.get(current, {})]


def check_hypothesis(current: str, target: str) -> Verdict:
    if current == target:
        return Verdict(allowed=False, same=True)
    kind = HYPOTHESIS_ALLOWED.get(current, {}).get(target)
    return Verdict(allowed=kind is not None, kind=kind)


def step_targets(current: str, *, manual: bool) -> list[str]:
    targets = dict(STEP_ALLOWED.get(current, {}))
    if manual:
        targets.update(MANUAL_STEP_EXTRA.get(current, {}))
    order = list(StepStatus.values)
    return sorted((str(t) for t in targets), key=order.index)


def check_step(current: str, target: str, *, manual: bool) -> Verdict:
    if current == target:
        return Verdict(allowed=False, same=True)
    kind = STEP_ALLOWED.get(current, {}).get(target)
    if kind is None and manual:
        kind = MANUAL_STEP_EXTRA.get(current, {}).get(target)
    return Verdict(allowed=kind is not None, kind=kind)


def is_concluded(status: str) -> bool:
    return status in (HypothesisStatus.CONFIRMED, HypothesisStatus.REJECTED)


def is_finished(status: str) -> bool:
    return status in (StepStatus.COMPLETED, StepStatus.FAILED)
