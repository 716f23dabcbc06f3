"""Evaluators: functions from source data to breaches. No I/O, no Django, no clocks.

Threshold and pattern evaluators are pure. The anomaly rule path keeps one streaming detector
per series between calls (``clear_rule_state`` forgets them), so a cycle scores only new points.

Each rule type has one module: ``threshold`` (a value crosses a line), ``pattern`` (a known
failure shape in pod states or log lines) and ``anomaly`` (a value unusual for its own history).
"""

from __future__ import annotations

from detection.evaluators.anomaly import (
    AnomalyConfig,
    AnomalyDetector,
    AnomalyResult,
    evaluate_anomaly,
    score_series,
)
from detection.evaluators.base import Breach
from detection.evaluators.fingerprints import fingerprint
from detection.evaluators.pattern import (
    KNOWN_PATTERNS,
    KnownPattern,
    evaluate_log_count,
    evaluate_log_pattern,
    evaluate_pod_pattern,
    restart_counts,
)
from detection.evaluators.threshold import COMPARATORS, compare, evaluate_threshold, normalize_comparator

__all__ = [
    "COMPARATORS",
    "KNOWN_PATTERNS",
    "AnomalyConfig",
    "AnomalyDetector",
    "AnomalyResult",
    "Breach",
    "KnownPattern",
    "compare",
    "evaluate_anomaly",
    "evaluate_log_count",
    "evaluate_log_pattern",
    "evaluate_pod_pattern",
    "evaluate_threshold",
    "fingerprint",
    "normalize_comparator",
    "restart_counts",
    "score_series",
]
