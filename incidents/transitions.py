"""The incident lifecycle as data: which status may follow which, and on what condition.

Pure: no database, no clock. ``incidents.services`` locks the row and asks this module.

    open ─► investigating ─► mitigated ─► resolved
      └──────────── skips forward, only with a note ──┘      resolved ─► investigating (reopen)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from incidents.models import Status


class Kind(StrEnum):
    STEP = "step"  # the next status in the lifecycle
    SKIP = "skip"  # forward past a status: the note must say why
    REOPEN = "reopen"  # resolved back to work


# Targets in lifecycle order, so error messages list them the way people read the lifecycle.
ALLOWED: dict[str, dict[str, Kind]] = {
    Status.OPEN: {Status.INVESTIGATING: Kind.STEP, Status.MITIGATED: Kind.SKIP, Status.RESOLVED: Kind.SKIP},
    Status.INVESTIGATING: {Status.MITIGATED: Kind.STEP, Status.RESOLVED: Kind.SKIP},
    Status.MITIGATED: {Status.RESOLVED: Kind.STEP},
    Status.RESOLVED: {Status.INVESTIGATING: Kind.REOPEN},
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    kind: Kind | None = None
    same: bool = False  # the incident is already there: a concurrent request won
    needs_note: bool = False
    false_positive: bool = False


def allowed_targets(current: str) -> list[str]:
    return [str(target) for target in ALLOWED.get(current, {})]


def can_transition(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, {})


def check(current: str, target: str) -> Verdict:
    """What moving from ``current`` to ``target`` means; ``allowed=False`` when it may not happen."""
    if current == target:
        return Verdict(allowed=False, same=True)
    kind = ALLOWED.get(current, {}).get(target)
    if kind is None:
        return Verdict(allowed=False)
    return Verdict(
        allowed=True,
        kind=kind,
        needs_note=kind is Kind.SKIP,
        # Straight from open to resolved nobody worked on it: the signal was wrong.
        false_positive=current == Status.OPEN and target == Status.RESOLVED,
    )


def leaves_open(current: str, target: str) -> bool:
    """Moving out of open means someone picked it up: that acknowledges it."""
    return current == Status.OPEN and target != Status.OPEN
