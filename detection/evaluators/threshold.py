"""Threshold rules: does each series' current value cross a fixed line?"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable

from detection.evaluators.base import Breach
from detection.sources.base import Sample

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
# Spellings a rule might carry from an API client or an Alertmanager-style config.
_ALIASES = {"gt": ">", "ge": ">=", "gte": ">=", "lt": "<", "le": "<=", "lte": "<=", "eq": "==", "ne": "!="}


def normalize_comparator(comparator: str) -> str:
    """The canonical symbol for ``comparator``; ``ValueError`` names the accepted ones."""
    key = comparator.strip()
    key = _ALIASES.get(key.lower(), key)
    if key not in COMPARATORS:
        raise ValueError(f"unknown comparator {comparator!r}; use one of {', '.join(COMPARATORS)}")
    return key


def compare(value: float, comparator: str, threshold: float) -> bool:
    """``value <comparator> threshold``, except that NaN never breaches.

    A NaN sample means "no meaningful value" (0/0 error ratio with no traffic), and ``NaN != x``
    is true in IEEE arithmetic, which would page someone for an idle service.
    """
    if math.isnan(value):
        return False
    return COMPARATORS[normalize_comparator(comparator)](value, threshold)


def evaluate_threshold(samples: Iterable[Sample], comparator: str, threshold: float) -> list[Breach]:
    """One ``Breach`` per label set whose value crosses ``threshold``.

    Should a source return the same label set twice, the newest sample decides, so a rule never
    produces two alerts with one fingerprint.
    """
    op = COMPARATORS[normalize_comparator(comparator)]
    if math.isnan(threshold):
        raise ValueError("threshold must be a number, not NaN")
    latest: dict[tuple[tuple[str, str], ...], Sample] = {}
    for sample in samples:
        key = tuple(sorted(sample.labels.items()))
        current = latest.get(key)
        if current is None or sample.timestamp >= current.timestamp:
            latest[key] = sample
    breaches = []
    for sample in latest.values():
        if not math.isnan(sample.value) and op(sample.value, threshold):
            breaches.append(
                Breach(
                    labels=dict(sample.labels),
                    value=sample.value,
                    timestamp=sample.timestamp,
                    reason=f"value {sample.value:g} {normalize_comparator(comparator)} {threshold:g}",
                )
            )
    return breaches
