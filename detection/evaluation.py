"""Evaluate one rule: query its source, hand the data to its evaluator, return the breaches.

No database access here, so many rules can be evaluated on threads at once; the caller applies
the results. Source failures propagate as ``SourceError``; a rule that cannot be evaluated as
configured raises ``RuleConfigError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from detection.evaluators import (
    AnomalyConfig,
    Breach,
    evaluate_anomaly,
    evaluate_log_count,
    evaluate_log_pattern,
    evaluate_pod_pattern,
    evaluate_threshold,
    restart_counts,
)
from detection.evaluators.pattern import get_pattern
from detection.models import DetectionRule, RuleType, SourceKind

DEFAULT_ANOMALY_WINDOW_SECONDS = 3600
DEFAULT_ANOMALY_STEP_SECONDS = 60
DEFAULT_LOG_WINDOW_SECONDS = 300


class RuleConfigError(ValueError):
    """The rule's own settings make it impossible to evaluate (not the source's fault)."""


@dataclass
class Evaluation:
    breaches: list[Breach]
    # The most extreme value seen (for the rules page); None when the source returned nothing.
    value: float | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    series_count: int = 0


def evaluate_rule(rule: DetectionRule, *, client: Any, now: datetime) -> Evaluation:
    if rule.rule_type == RuleType.THRESHOLD:
        return _threshold(rule, client)
    if rule.rule_type == RuleType.PATTERN:
        return _pattern(rule, client, now)
    if rule.rule_type == RuleType.ANOMALY:
        return _anomaly(rule, client, now)
    raise RuleConfigError(f"unknown rule type {rule.rule_type!r}")


def _threshold(rule: DetectionRule, client: Any) -> Evaluation:
    if rule.source.kind == SourceKind.KUBERNETES:
        raise RuleConfigError("threshold rules need a Prometheus or Loki source")
    if rule.threshold_value is None:
        raise RuleConfigError("threshold rules need a threshold_value")
    samples = client.instant(rule.query)
    return Evaluation(
        breaches=evaluate_threshold(samples, rule.comparator, rule.threshold_value),
        value=_extreme(s.value for s in samples),
        series_count=len(samples),
    )


def _pattern(rule: DetectionRule, client: Any, now: datetime) -> Evaluation:
    spec = get_pattern(rule.pattern)
    params = rule.parameters or {}
    if spec.kind == "pod":
        if rule.source.kind != SourceKind.KUBERNETES:
            raise RuleConfigError(f"{spec.name} reads pod states: it needs a Kubernetes source")
        pods = client.pods(namespace=params.get("namespace") or None, label_selector=rule.query)
        since = now - timedelta(seconds=float(params.get("lookback_seconds", DEFAULT_LOG_WINDOW_SECONDS)))
        breaches = evaluate_pod_pattern(pods, spec, rule.memory.get("restarts"), since=since)
        return Evaluation(breaches, value=float(len(breaches)), memory={"restarts": restart_counts(pods)},
                          series_count=len(pods))
    if rule.source.kind != SourceKind.LOKI:
        raise RuleConfigError(f"{spec.name} reads logs: it needs a Loki source")
    min_count = rule.threshold_value if rule.threshold_value is not None else 1
    if spec.kind == "log_count":
        samples = client.instant(rule.query)
        return Evaluation(evaluate_log_count(samples, min_count), value=_extreme(s.value for s in samples),
                          series_count=len(samples))
    window = float(params.get("window_seconds", DEFAULT_LOG_WINDOW_SECONDS))
    lines = client.logs(rule.query, now - timedelta(seconds=window), now)
    regex = params.get("regex") or spec.default_regex
    breaches = evaluate_log_pattern(lines, regex, int(min_count))
    return Evaluation(breaches, value=float(sum(b.value for b in breaches)), series_count=len(lines))


def anomaly_config(rule: DetectionRule) -> AnomalyConfig:
    params = dict((rule.parameters or {}).get("anomaly", {}))
    try:
        return AnomalyConfig(**params)
    except (TypeError, ValueError) as exc:
        raise RuleConfigError(f"anomaly parameters: {exc}") from exc


def _anomaly(rule: DetectionRule, client: Any, now: datetime) -> Evaluation:
    if rule.source.kind == SourceKind.KUBERNETES:
        raise RuleConfigError("anomaly rules need a Prometheus or Loki source")
    params = rule.parameters or {}
    window = float(params.get("window_seconds", DEFAULT_ANOMALY_WINDOW_SECONDS))
    step = float(params.get("step_seconds", DEFAULT_ANOMALY_STEP_SECONDS))
    # A range ending on a multiple of the step shares its timestamps with the previous cycle's,
    # so the evaluator can continue its kept per-series state instead of replaying cold.
    end = datetime.fromtimestamp(now.timestamp() // step * step, tz=now.tzinfo)
    series = client.range(rule.query, end - timedelta(seconds=window), end, step)
    latest = [s.points[-1][1] for s in series if s.points]
    return Evaluation(evaluate_anomaly(series, anomaly_config(rule)), value=_extreme(latest),
                      series_count=len(series))


def _extreme(values: Any) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return max(finite, key=abs) if finite else None
