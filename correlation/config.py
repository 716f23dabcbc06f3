"""Correlation's knobs, read from Django settings (``CORRELATION_*``) with the defaults here.

Window: the incident window is [detected_at − lookback, resolved_at or now]; its baseline is
the same length just before it, at least the lookback and at most ``baseline_max``. Changes
(rollouts) are looked for from ``change_lookback`` before detection, since they often bite late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from correlation.collectors.base import Options, Window, duration_seconds

DEFAULTS = {
    "LOOKBACK_SECONDS": 900,
    "BASELINE_MAX_SECONDS": 3600,
    "CHANGE_LOOKBACK_SECONDS": 3600,
    "COLLECTOR_TIMEOUT_SECONDS": 30.0,
    "COLLECTOR_TIMEOUTS": {},
    "RATE_WINDOW": "1m",
    "MAX_POINTS": 1800,
    "LOG_LIMIT": 2000,
    "LOG_ERROR_PATTERN": Options.log_error_pattern,
    "METRIC_QUERIES": {},
    "REFRESH_INTERVAL_SECONDS": 120,
    "REFRESH_FOR_SECONDS": 1800,
    "STALE_RUN_SECONDS": 600,
    "CHANGE_THRESHOLD": 0.05,
}


@dataclass(frozen=True)
class CorrelationConfig:
    lookback: timedelta
    baseline_max: timedelta
    change_lookback: timedelta
    collector_timeout_seconds: float
    collector_timeouts: Mapping[str, float]
    options: Options
    refresh_interval: timedelta
    refresh_for: timedelta
    # A run still "running" after this long was lost with its worker and may be replaced.
    stale_run: timedelta
    # A rerun republishes a correlation only when its confidence moved by more than this.
    change_threshold: float

    def window(self, *, detected_at: datetime, resolved_at: datetime | None, now: datetime) -> Window:
        start = detected_at - self.lookback
        end = max(resolved_at or now, detected_at)
        baseline = min(max(end - start, self.lookback), self.baseline_max)
        return Window(
            start=start.timestamp(),
            end=end.timestamp(),
            baseline_start=(start - baseline).timestamp(),
            detected_at=detected_at.timestamp(),
            change_start=min(detected_at - self.change_lookback, start - baseline).timestamp(),
        )


def _get(name: str) -> object:
    return getattr(settings, f"CORRELATION_{name}", DEFAULTS[name])


def correlation_config() -> CorrelationConfig:
    rate_window = str(_get("RATE_WINDOW"))
    try:
        duration_seconds(rate_window)
    except ValueError as exc:
        raise ImproperlyConfigured(f"CORRELATION_RATE_WINDOW: {exc}") from None
    return CorrelationConfig(
        lookback=timedelta(seconds=float(_get("LOOKBACK_SECONDS"))),
        baseline_max=timedelta(seconds=float(_get("BASELINE_MAX_SECONDS"))),
        change_lookback=timedelta(seconds=float(_get("CHANGE_LOOKBACK_SECONDS"))),
        collector_timeout_seconds=float(_get("COLLECTOR_TIMEOUT_SECONDS")),
        collector_timeouts=dict(_get("COLLECTOR_TIMEOUTS")),
        options=Options(
            rate_window=rate_window,
            max_points=int(_get("MAX_POINTS")),
            log_limit=int(_get("LOG_LIMIT")),
            log_error_pattern=str(_get("LOG_ERROR_PATTERN")),
            metric_queries=dict(_get("METRIC_QUERIES")),
        ),
        refresh_interval=timedelta(seconds=float(_get("REFRESH_INTERVAL_SECONDS"))),
        refresh_for=timedelta(seconds=float(_get("REFRESH_FOR_SECONDS"))),
        stale_run=timedelta(seconds=float(_get("STALE_RUN_SECONDS"))),
        change_threshold=float(_get("CHANGE_THRESHOLD")),
    )
