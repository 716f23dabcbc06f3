"""What every collector shares: the context it is given, the result it returns, selectors.

Collectors run in worker threads, so they never touch the database: ``correlation.services``
reads everything they need into this plain context first and writes their results afterwards.
A collector answers with findings (evidence to score) and facts (numbers for the impact:
failing share, pods affected); it raises ``CollectorSkipped`` when it has nothing to look at,
and lets ``SourceError`` through when its source fails, which the runner records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from correlation.scoring import Finding

# Telemetry label keys with a meaning of their own; every other key is a series/stream matcher.
POD_SELECTOR_KEY = "pod_selector"
LOG_SELECTOR_KEY = "log_selector"
TRACE_SERVICE_KEY = "trace_service"
RESERVED_KEYS = frozenset({POD_SELECTOR_KEY, LOG_SELECTOR_KEY, TRACE_SERVICE_KEY})
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class CollectorSkipped(Exception):  # noqa: N818 - a status, not an error
    """Nothing to collect from (no source of this kind, no service): recorded as "skipped"."""


@dataclass(frozen=True)
class ServiceRef:
    """A service as the collectors see it.

    ``labels`` are ``Service.telemetry_labels``. By convention:

    * every label except the reserved keys is a Prometheus and Loki matcher
      (``{"service": "checkout"}`` → ``{service="checkout"}``); none at all means
      ``service="<slug>"``;
    * ``namespace`` also names the Kubernetes namespace (none: every namespace);
    * ``pod_selector`` is the Kubernetes label selector of its pods (default ``app=<app,
      service or slug>``), ``log_selector`` a full LogQL stream selector, ``trace_service``
      its name in span metrics (default: the ``service`` label, else the slug).
    """

    slug: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def matchers(self) -> str:
        pairs = {k: v for k, v in self.labels.items() if k not in RESERVED_KEYS and _LABEL_NAME.match(k)}
        if not pairs:
            pairs = {"service": self.slug}
        return ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(pairs.items()))

    def log_selector(self) -> str:
        return self.labels.get(LOG_SELECTOR_KEY) or "{" + self.matchers() + "}"

    def pod_selector(self) -> str:
        explicit = self.labels.get(POD_SELECTOR_KEY)
        if explicit:
            return explicit
        return f"app={self.labels.get('app') or self.labels.get('service') or self.slug}"

    def namespace(self) -> str | None:
        return self.labels.get("namespace") or None

    def trace_service(self) -> str:
        return self.labels.get(TRACE_SERVICE_KEY) or self.labels.get("service") or self.slug


@dataclass(frozen=True)
class Window:
    """Unix seconds. The incident window is [start, end]; its baseline [baseline_start, start).

    ``change_start`` reaches further back for changes (rollouts), which often bite late.
    """

    start: float
    end: float
    baseline_start: float
    detected_at: float
    change_start: float

    @property
    def baseline_end(self) -> float:
        return self.start


@dataclass(frozen=True)
class Options:
    rate_window: str = "1m"
    max_points: int = 1800
    log_limit: int = 2000
    log_error_pattern: str = "(?i)(error|exception|panic|fatal|critical|traceback|failed)"
    # Golden-signal PromQL templates, ``$selector`` and ``$window`` substituted; None disables one.
    metric_queries: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def rate_window_seconds(self) -> float:
        return duration_seconds(self.rate_window)

    def step(self, window: Window) -> float:
        """A range query step that keeps each series under ``max_points`` (at least 1 s)."""
        span = max(window.end - window.baseline_start, 1.0)
        return max(1.0, float(int(span / self.max_points + 0.999)))


@dataclass(frozen=True)
class CollectContext:
    incident_id: int
    service: ServiceRef
    # What the service calls, transitively, nearest first: their failures travel upstream.
    dependencies: tuple[ServiceRef, ...]
    window: Window
    options: Options = field(default_factory=Options)

    @property
    def services(self) -> tuple[ServiceRef, ...]:
        return (self.service, *self.dependencies)


@dataclass
class CollectorResult:
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # What a person should know about this run: queries that found nothing, truncated reads.
    notes: list[str] = field(default_factory=list)


class Collector(Protocol):
    name: str
    # The correlation kinds this collector is the authority for (stale rows are retired by it).
    kinds: frozenset[str]

    def collect(self, context: CollectContext) -> CollectorResult: ...


ClientFactory = Callable[[], Any]


@dataclass(frozen=True)
class Unavailable:
    """Stands in for a collector whose source is not configured: always skips, with the reason."""

    name: str
    kinds: frozenset[str]
    reason: str

    def collect(self, context: CollectContext) -> CollectorResult:
        raise CollectorSkipped(self.reason)


_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float:
    """A Prometheus duration ("1m", "1m30s", "500ms") in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Prometheus duration such as 1m or 30s")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def settled(points: list[tuple[float, float]], *, range_start: float, step: float, rate_window: float) -> list[
    tuple[float, float]
]:
    """Drop a young series' first ``rate_window`` seconds: a rate over a window that reaches
    back before the series began is biased low, and its climb would read as a change.

    A series that existed before the range began loses nothing.
    """
    if not points:
        return points
    first = min(t for t, _ in points)
    if first <= range_start + step:
        return points
    return [(t, v) for t, v in points if t >= first + rate_window]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def in_window(timestamp: float | None, start: float, end: float) -> bool:
    return timestamp is not None and start <= timestamp <= end
