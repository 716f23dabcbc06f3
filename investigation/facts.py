"""What the pure investigation modules know of a correlation: plain data, no Django."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CorrelationFact:
    id: int
    kind: str
    signal: str
    title: str
    service: str | None
    confidence: float
    evidence: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""
    key: str = ""
