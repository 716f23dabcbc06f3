"""What every evaluator returns: one ``Breach`` per label set that crossed its rule's line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Breach:
    labels: dict[str, str]
    value: float
    timestamp: float | None = None
    # Anomaly rules: how unusual the value is, in [0, 1]; None for rules that only cross a line.
    score: float | None = None
    reason: str = ""
    details: dict[str, float | str] = field(default_factory=dict)
