"""Shared vocabulary of the source clients: errors, result dataclasses, configuration, HTTP.

Nothing here imports Django: the model layer turns a DataSource row into a ``SourceConfig`` and
hands it to a client, so the clients stay testable as plain Python.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class SourceError(Exception):
    """Anything that stopped a source from answering a question usefully."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# The subclass names are a contract (STYLE.md, convention 7), hence no "Error" suffix.
class SourceUnavailable(SourceError):  # noqa: N818
    """Transient: connection refused, timeout, 5xx. Worth retrying later."""


class BadQuery(SourceError):  # noqa: N818
    """The source rejected the query itself; ``message`` is the source's own words."""


class BadResponse(SourceError):  # noqa: N818
    """The source answered, but not with anything we can read (garbage, wrong shape)."""


class AccessDenied(SourceError):  # noqa: N818
    """401/403: credentials are wrong or lack permission; retrying will not help."""


# The name the Celery conventions use for ``autoretry_for``.
TransientSourceError = SourceUnavailable


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    labels: dict[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True, slots=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class LogLine:
    labels: dict[str, str]
    timestamp: float
    line: str
    # Loki's nanosecond timestamp, exact; a float second loses the last digits, which matter
    # for ordering and de-duplicating lines written in the same microsecond.
    timestamp_ns: int = 0


@dataclass(frozen=True, slots=True)
class ContainerState:
    name: str
    ready: bool
    restart_count: int
    waiting_reason: str | None = None
    terminated_reason: str | None = None
    last_terminated_reason: str | None = None
    last_terminated_at: datetime | None = None
    init: bool = False


@dataclass(frozen=True, slots=True)
class PodState:
    name: str
    namespace: str
    phase: str
    ready: bool
    node: str | None
    labels: dict[str, str]
    containers: list[ContainerState]


@dataclass(frozen=True, slots=True)
class KubeEvent:
    namespace: str
    involved_kind: str
    involved_name: str
    reason: str
    message: str
    type: str
    count: int
    last_timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class Rollout:
    kind: str  # "Deployment" | "ReplicaSet"
    name: str
    namespace: str
    revision: int | None
    created_at: datetime | None
    images: list[str]
    ready_replicas: int
    replicas: int
    updated_replicas: int
    # The Deployment owning a ReplicaSet, so a correlator can join the two kinds.
    owner: str | None = None


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """How to reach one source. Built from a DataSource row or from the environment."""

    url: str = ""
    timeout_seconds: float = 10.0
    auth_token: str = ""
    username: str = ""
    password: str = ""
    # Kubernetes only: a kubeconfig path or the kubeconfig YAML itself; empty means in-cluster.
    kubeconfig: str = ""
    context: str = ""
    verify_tls: bool = True
    # A dead host should fail fast even when slow queries are allowed a long read timeout.
    connect_timeout_seconds: float = 3.0
    max_retries: int = 2
    extra_headers: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) as requests and urllib3 take them."""
        return (min(self.connect_timeout_seconds, self.timeout_seconds), self.timeout_seconds)

    def identity(self) -> tuple[Any, ...]:
        """What makes two configs share a connection pool."""
        return (
            self.url.rstrip("/"),
            self.auth_token,
            self.username,
            self.password,
            self.verify_tls,
            self.max_retries,
            tuple(sorted(self.extra_headers.items())),
        )


# --------------------------------------------------------------------------------------------
# HTTP sessions
# --------------------------------------------------------------------------------------------

RETRY_STATUSES = (502, 503, 504)
_SESSION_CACHE_SIZE = 64
_sessions: OrderedDict[tuple[Any, ...], requests.Session] = OrderedDict()
_sessions_lock = threading.Lock()


def build_retry(max_retries: int) -> Retry:
    """Bounded retries for idempotent reads.

    Connection errors and gateway statuses are retried with backoff; read errors are not,
    because a query that timed out once will time out again and only multiplies the wait.
    4xx is never retried: the query or credentials will not get better.
    """
    return Retry(
        total=max_retries,
        connect=max_retries,
        # False re-raises the read timeout as itself, so callers can say "timed out".
        read=False,
        status=max_retries,
        other=0,
        redirect=2,
        status_forcelist=RETRY_STATUSES,
        # Queries are reads even when POSTed (Prometheus takes long queries as a form body).
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),
        backoff_factor=0.2,
        backoff_max=2.0,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def session_for(config: SourceConfig) -> requests.Session:
    """One pooled session per source configuration per process.

    Keyed by pid as well: a Celery prefork child must not reuse sockets it inherited from the
    parent, which would interleave two processes' bytes on one connection.
    """
    key = (os.getpid(), *config.identity())
    with _sessions_lock:
        session = _sessions.get(key)
        if session is not None:
            _sessions.move_to_end(key)
            return session
        session = _new_session(config)
        _sessions[key] = session
        while len(_sessions) > _SESSION_CACHE_SIZE:
            _, old = _sessions.popitem(last=False)
            old.close()
        return session


def clear_sessions() -> None:
    """Close every pooled session (tests, and after a source's credentials change)."""
    with _sessions_lock:
        while _sessions:
            _, session = _sessions.popitem()
            session.close()


def _new_session(config: SourceConfig) -> requests.Session:
    session = requests.Session()
    # Ten connections: a worker evaluates up to DETECTION_CONCURRENCY (10) rules at once, often
    # against the same source; more would only queue inside the source.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=10, max_retries=build_retry(config.max_retries))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = config.verify_tls
    # Proxies and netrc from the worker's environment must not silently reroute telemetry.
    session.trust_env = False
    session.headers.update({"Accept": "application/json", "User-Agent": "reliability-studio"})
    session.headers.update(config.extra_headers)
    if config.auth_token:
        session.headers["Authorization"] = f"Bearer {config.auth_token}"
    elif config.username:
        session.auth = (config.username, config.password)
    return session


def http_request(
    config: SourceConfig,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> requests.Response:
    """Send one request, turning transport failures into ``SourceUnavailable``."""
    url = config.url.rstrip("/") + path
    try:
        return session_for(config).request(method, url, params=params, data=data, timeout=config.timeouts)
    except requests.Timeout as exc:
        raise SourceUnavailable(f"{url} did not answer within {config.timeout_seconds:g}s: {exc}") from exc
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot reach {url}: {exc}") from exc


def raise_for_http_status(response: requests.Response, *, source: str) -> None:
    """Map statuses the query did not cause; query errors are each client's business."""
    status = response.status_code
    if status in (401, 403):
        raise AccessDenied(f"{source} refused the credentials ({status}): {body_excerpt(response)}", status=status)
    if status >= 500:
        raise SourceUnavailable(f"{source} answered {status}: {body_excerpt(response)}", status=status)


def decode_json(response: requests.Response, *, source: str) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadResponse(
            f"{source} answered {response.status_code} with a body that is not JSON: {body_excerpt(response)}",
            status=response.status_code,
        ) from exc


def body_excerpt(response: requests.Response, limit: int = 300) -> str:
    text = response.text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def parse_float(raw: Any) -> float:
    """Prometheus and Loki send sample values as strings, including "NaN" and "±Inf"."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise BadResponse(f"sample value {raw!r} is not a number")
    try:
        return float(raw)
    except ValueError as exc:
        raise BadResponse(f"sample value {raw!r} is not a number") from exc


def parse_labels(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BadResponse(f"expected a label object, got {type(raw).__name__}")
    return {str(k): str(v) for k, v in raw.items()}


def timestamp_seconds(value: float | datetime) -> float:
    """Unix seconds; a naive datetime is taken as UTC, never as the worker's local time."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


# --------------------------------------------------------------------------------------------
# Health, the same for every client
# --------------------------------------------------------------------------------------------


class SourceClient:
    """What every client offers: ``check()`` raises a ``SourceError``; ``ready()`` says yes or no."""

    def check(self) -> None:
        raise NotImplementedError

    def ready(self) -> bool:
        """False when the source cannot serve queries now, for whatever reason."""
        try:
            self.check()
        except SourceError:
            return False
        return True


def readiness_check(config: SourceConfig, path: str, *, source: str) -> None:
    """GET a readiness endpoint; anything but 200 is a ``SourceError``."""
    response = http_request(config, "GET", path)
    raise_for_http_status(response, source=source)
    if response.status_code != 200:
        raise BadResponse(
            f"{source} readiness answered {response.status_code}: {body_excerpt(response)}",
            status=response.status_code,
        )


# --------------------------------------------------------------------------------------------
# Prometheus' result JSON, which Loki's metric queries share
# --------------------------------------------------------------------------------------------


def as_list(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise BadResponse(f"expected a result list, got {type(raw).__name__}")
    return raw


def parse_pair(raw: Any) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise BadResponse(f"expected a [timestamp, value] pair, got {raw!r:.80}")
    return parse_float(raw[0]), parse_float(raw[1])


def parse_sample(item: Any) -> Sample:
    if not isinstance(item, dict) or "value" not in item:
        # Native histograms come as "histogram"; no rule here compares a histogram to a number.
        raise BadResponse(f"vector element without a value: {item!r:.120}")
    ts, value = parse_pair(item["value"])
    return Sample(labels=parse_labels(item.get("metric", {})), value=value, timestamp=ts)


def parse_series(item: Any) -> Series:
    if not isinstance(item, dict) or "values" not in item:
        raise BadResponse(f"matrix element without values: {item!r:.120}")
    points = [parse_pair(p) for p in as_list(item["values"])]
    return Series(labels=parse_labels(item.get("metric", {})), points=points)
