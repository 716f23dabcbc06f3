"""What every step action shares: its context, its result, parameter checks, windows and excerpts.

Actions never touch the database: ``investigation.services`` reads the incident, its services
and the data source into an ``ActionContext``, hands over a source client from
``detection.clients.client_for``, and stores the ``ActionResult``. A source's trouble reaches
the caller as detection's ``SourceError``; ``ActionFailed`` is for everything else that stops
an action from answering (nothing to look at, no data of the needed kind).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from correlation.collectors.base import ServiceRef, duration_seconds
from detection.sources.base import Series

DEFAULT_LOOKBACK = timedelta(minutes=15)
MAX_WINDOW = timedelta(days=7)
MAX_PARAMETERS_BYTES = 8_000
MAX_QUERY_LENGTH = 4_000
# Findings are read by people and stored on every run: keep each one small.
MAX_SERIES = 10
MAX_POINTS = 20
MAX_RANGE_POINTS = 240
COMMON_KEYS = frozenset({"window", "source", "service"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class ParameterError(ValueError):
    """Parameters an action cannot use; ``key`` names the offending one."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class ActionFailed(Exception):  # noqa: N818 - reads as the outcome it reports
    """The action could not answer for a reason other than its source failing."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 1.0)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class ActionContext:
    incident_id: int
    # The service the step looks at (``parameters.service``, else the incident's); may be None.
    service: ServiceRef | None
    # What that service calls, transitively, nearest first.
    dependencies: tuple[ServiceRef, ...]
    window: Window
    parameters: Mapping[str, Any]
    source_name: str = ""
    source_url: str = ""
    # Builds the source client; called inside the action so that its errors are the step's.
    client_factory: Callable[[], Any] | None = None
    rate_window: str = "1m"

    def client(self) -> Any:
        if self.client_factory is None:
            raise ActionFailed("no data source to ask")
        return self.client_factory()

    def require_service(self) -> ServiceRef:
        if self.service is None:
            raise ActionFailed("the incident has no service: name one in parameters.service")
        return self.service


@dataclass
class ActionResult:
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    # test_hypothesis only: "supports", "refutes" or "inconclusive".
    verdict: str | None = None

    def findings(self) -> dict[str, Any]:
        return {"summary": self.summary, "data": json_safe(self.data)}


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def clean_common(raw: Any, *, allowed: frozenset[str]) -> dict[str, Any]:
    """Check the keys every action shares and refuse keys the action does not know."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParameterError("parameters", 'Parameters are an object, e.g. {"query": "..."}.')
    if len(json.dumps(raw, default=str)) > MAX_PARAMETERS_BYTES:
        raise ParameterError("parameters", f"Parameters take at most {MAX_PARAMETERS_BYTES} bytes.")
    unknown = sorted(set(raw) - allowed - COMMON_KEYS)
    if unknown:
        known = ", ".join(sorted(allowed | COMMON_KEYS))
        raise ParameterError(unknown[0], f"Unknown parameter {unknown[0]!r} for this action: one of {known}.")
    cleaned = dict(raw)
    if "window" in cleaned:
        cleaned["window"] = clean_window(cleaned["window"])
    if "source" in cleaned:
        source = cleaned["source"]
        if isinstance(source, bool) or not isinstance(source, (int, str)) or source in ("", 0):
            raise ParameterError("source", "source is a data source's id or name.")
    if "service" in cleaned:
        service = cleaned["service"]
        if not isinstance(service, str) or not _NAME.match(service):
            raise ParameterError("service", 'service is a service\'s slug, e.g. "checkout".')
    return cleaned


def clean_window(raw: Any) -> dict[str, Any]:
    """``{"start": ISO, "end": ISO}`` (either may be left out) or ``{"minutes": n}`` before the end."""
    if not isinstance(raw, dict) or not raw or set(raw) - {"start", "end", "minutes"}:
        raise ParameterError("window", 'window is {"start": ISO 8601, "end": ISO 8601} or {"minutes": n}.')
    parsed = {key: parse_time(raw[key], key=f"window.{key}") for key in ("start", "end") if raw.get(key) is not None}
    if "start" in parsed and "end" in parsed and parsed["start"] >= parsed["end"]:
        raise ParameterError("window", "window.start must be before window.end.")
    cleaned: dict[str, Any] = {key: value.isoformat() for key, value in parsed.items()}
    if "minutes" in raw:
        if "start" in raw:
            raise ParameterError("window", "window takes a start or minutes, not both.")
        minutes = raw["minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= 7 * 24 * 60:
            raise ParameterError("window.minutes", "window.minutes is a number of minutes, at most a week.")
        cleaned["minutes"] = minutes
    return cleaned


def parse_time(value: Any, *, key: str) -> datetime:
    if not isinstance(value, str):
        raise ParameterError(key, f"{key} is an ISO 8601 time, e.g. 2024-05-01T12:00:00Z.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(key, f"{key} is an ISO 8601 time, e.g. 2024-05-01T12:00:00Z.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clean_query(raw: Any, key: str = "query") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ParameterError(key, f"{key} is a non-empty query string.")
    if len(raw) > MAX_QUERY_LENGTH:
        raise ParameterError(key, f"{key} has at most {MAX_QUERY_LENGTH} characters.")
    return raw.strip()


def clean_choices(raw: Any, key: str, choices: tuple[str, ...]) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(item, str) for item in raw):
        raise ParameterError(key, f"{key} is a list of {', '.join(choices)}.")
    unknown = [item for item in raw if item not in choices]
    if unknown:
        raise ParameterError(key, f"Unknown {key} {unknown[0]!r}: one of {', '.join(choices)}.")
    return list(dict.fromkeys(raw))


def clean_rate_window(raw: Any) -> str:
    try:
        seconds = duration_seconds(raw) if isinstance(raw, str) else 0
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise ParameterError("rate_window", "rate_window is a Prometheus duration such as 1m or 30s.")
    return raw


def resolve_window(
    raw: Mapping[str, Any] | None, *, detected_at: datetime, resolved_at: datetime | None, now: datetime
) -> Window:
    """The step's window: by default from 15 minutes before detection to the resolution, or now."""
    raw = raw or {}
    end = parse_time(raw["end"], key="window.end") if raw.get("end") else (resolved_at or now)
    end = min(end, now)
    if raw.get("start"):
        start = parse_time(raw["start"], key="window.start")
    elif raw.get("minutes"):
        start = end - timedelta(minutes=float(raw["minutes"]))
    else:
        start = detected_at - DEFAULT_LOOKBACK
    if start >= end:
        # A window set in the future, or detection after "now" on a skewed clock: one minute back.
        start = end - timedelta(minutes=1)
    if end - start > MAX_WINDOW:
        start = end - MAX_WINDOW
    return Window(start=start, end=end)


# --------------------------------------------------------------------------------------------
# Excerpts
# --------------------------------------------------------------------------------------------


def range_step(window: Window) -> float:
    """A query step that keeps each series under ``MAX_RANGE_POINTS`` points (at least 1 s)."""
    return float(max(1, math.ceil(window.seconds / MAX_RANGE_POINTS)))


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def series_excerpt(one: Series, *, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Labels, last/min/max/avg of the finite points, and at most ``max_points`` of them, evenly spread."""
    points = [(t, v) for t, v in one.points if math.isfinite(v)]
    excerpt: dict[str, Any] = {"labels": dict(one.labels), "points_total": len(one.points)}
    if not points:
        excerpt.update({"last": None, "min": None, "max": None, "avg": None, "points": []})
        return excerpt
    values = [v for _, v in points]
    if len(points) > max_points:
        stride = (len(points) - 1) / (max_points - 1)
        points = [points[round(i * stride)] for i in range(max_points)]
    excerpt.update(
        {
            "last": round_value(values[-1]),
            "min": round_value(min(values)),
            "max": round_value(max(values)),
            "avg": round_value(sum(values) / len(values)),
            "points": [[int(t), round_value(v)] for t, v in points],
        }
    )
    return excerpt


def round_value(value: float) -> float:
    return float(f"{value:.6g}")


def json_safe(value: Any) -> Any:
    """NaN and infinities become None: PostgreSQL's JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def prometheus_link(base_url: str, query: str, window: Window) -> str | None:
    """The query in Prometheus' own graph page, over the step's window."""
    if not base_url:
        return None
    params = {
        "g0.expr": query,
        "g0.tab": "0",
        "g0.range_input": f"{int(window.seconds)}s",
        "g0.end_input": window.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return f"{base_url.rstrip('/')}/graph?{urlencode(params)}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "no data"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "per_second":
        return f"{value:.2f}/s"
    return f"{value:.4g}"
