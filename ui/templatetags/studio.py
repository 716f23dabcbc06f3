"""Formatting for operator pages: compact durations and ages that read at a glance."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


def compact_duration(seconds: float | None) -> str:
    """``42s``, ``3m 20s``, ``1h 04m``, ``2d 3h``; ``—`` for unknown. Negative clamps to 0."""
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "—"
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s" if minutes < 10 else f"{minutes}m"
    return f"{secs}s"


@register.filter
def duration(seconds: float | None) -> str:
    return compact_duration(seconds)


@register.filter
def age(at: datetime | None) -> str:
    """How long ago, compactly (``3m``, ``2h 05m``); live.js keeps it current from ``datetime``."""
    if at is None:
        return "—"
    return compact_duration((timezone.now() - at).total_seconds())


@register.filter
def percent(share: float | None, digits: int = 0) -> str:
    if share is None:
        return "—"
    return f"{share * 100:.{int(digits)}f}%"


@register.filter
def share_width(share: float | None) -> str:
    """A CSS width for a 0..1 share, never quite zero so a non-empty bar stays visible."""
    if not share:
        return "0%"
    return f"{max(share * 100, 1.5):.1f}%"


@register.filter
def pretty_json(value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def isoformat(at: datetime | None) -> str:
    return at.isoformat() if at else ""


@register.filter
def metric(value: float | None) -> str:
    """A measured value with at most four significant digits: ``0.27``, ``2.4``, ``1.235e+06``."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"
