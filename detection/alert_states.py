"""The alert state machine, with Prometheus' semantics. Pure: data in, data out.

inactive ─breach─► pending ─(breaching for ``for``)─► firing ─(clear for ``keep_firing_for``)─► resolved

A pending alert that clears vanishes (back to inactive) without a resolve; ``for == 0`` fires on
the first breach. A resolved alert that breaches again starts over at pending.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"


@dataclass(frozen=True)
class AlertSnapshot:
    state: str = INACTIVE
    active_since: datetime | None = None
    fired_at: datetime | None = None
    last_breach_at: datetime | None = None
    resolved_at: datetime | None = None


def next_snapshot(
    current: AlertSnapshot,
    *,
    breaching: bool,
    now: datetime,
    for_seconds: int,
    keep_firing_for_seconds: int,
) -> AlertSnapshot:
    if breaching:
        if current.state in (INACTIVE, RESOLVED):
            current = AlertSnapshot(state=PENDING, active_since=now)
        current = replace(current, last_breach_at=now)
        if current.state == PENDING and now - current.active_since >= timedelta(seconds=for_seconds):
            current = replace(current, state=FIRING, fired_at=now)
        return current
    if current.state == PENDING:
        return AlertSnapshot()
    if current.state == FIRING:
        last = current.last_breach_at or now
        if now - last >= timedelta(seconds=keep_firing_for_seconds):
            return replace(current, state=RESOLVED, resolved_at=now)
    return current
