"""Anomaly detection: the streaming detector (``detector``) and the rule path (``rules``).

The method is written down in ``detector``'s docstring.
"""

from __future__ import annotations

from detection.evaluators.anomaly.detector import (
    AnomalyConfig,
    AnomalyDetector,
    AnomalyResult,
    Direction,
    score_series,
)
from detection.evaluators.anomaly.rules import RULE_STATE_CAPACITY, clear_rule_state, evaluate_anomaly

__all__ = [
    "RULE_STATE_CAPACITY",
    "AnomalyConfig",
    "AnomalyDetector",
    "AnomalyResult",
    "Direction",
    "clear_rule_state",
    "evaluate_anomaly",
    "score_series",
]
