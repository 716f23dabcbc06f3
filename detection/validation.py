"""The one place that decides whether a data source or a detection rule is well configured.

The DRF serializers and the admin forms both call ``source_validate`` and ``rule_validate``;
neither repeats a rule of its own. Problems are raised as ``DomainError(field=...)`` naming the
field to fix, which the API turns into ``{"<field>": ["message"]}`` and the admin into a form
error (``as_validation_error``).

Queries are checked by the source that will run them, asked once in the shape the evaluator will
ask (an instant query for a threshold rule, a short range for an anomaly rule, a one-line log
query for a log pattern), so a bad PromQL or LogQL expression is reported in the source's own
words, and so is a valid expression of the wrong kind (a range vector where a number is needed).
A source that does not answer makes the rule or source invalid too: saving something that has
never been seen to work only defers the error to the detection cycle, where nobody is looking.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from detection.clients import client_for
from detection.evaluators import KNOWN_PATTERNS, AnomalyConfig, normalize_comparator
from detection.models import Comparator, DataSource, DetectionRule, RuleType, SourceKind
from detection.sources import AccessDenied, BadQuery, BadResponse, SourceError
from reliability_studio.lib.errors import DomainError

# Prometheus refuses range queries of more points than this per series.
MAX_RANGE_POINTS = 11_000
MAX_TIMEOUT_SECONDS = 300.0
SOURCE_LABEL = {SourceKind.PROMETHEUS: "Prometheus", SourceKind.LOKI: "Loki", SourceKind.KUBERNETES: "Kubernetes"}
# Which source kinds can answer each kind of pattern (see evaluation._pattern).
PATTERN_SOURCE = {"pod": SourceKind.KUBERNETES, "log_line": SourceKind.LOKI, "log_count": SourceKind.LOKI}
# A change to any of these means the query must be checked against the source again.
RULE_QUERY_FIELDS = ("rule_type", "source", "query", "pattern", "parameters")
SOURCE_CONNECTION_FIELDS = (
    "kind", "url", "timeout_seconds", "verify_tls", "auth_token", "username", "password", "kubeconfig", "context",
)
# The fields a ``source_validate`` caller passes, in the order the admin form shows them.
SOURCE_FIELDS = ("name", "enabled", *SOURCE_CONNECTION_FIELDS)


# --------------------------------------------------------------------------------------------
# Data sources
# --------------------------------------------------------------------------------------------


def source_validate(
    *,
    kind: str,
    url: str = "",
    timeout_seconds: float = 10.0,
    verify_tls: bool = True,
    auth_token: str = "",
    username: str = "",
    password: str = "",
    kubeconfig: str = "",
    context: str = "",
    enabled: bool = True,
    name: str = "",
    instance: DataSource | None = None,
) -> None:
    """Raise ``DomainError`` unless a source with these settings can be saved.

    Checks the settings, then asks the source itself (``client.check()``) when the source is
    enabled and is new, is being enabled, or changes how it is reached: a disabled source may
    be saved while it is down, so operators can switch a dead source off.
    """
    if kind not in SourceKind.values:
        raise DomainError(f"Unknown kind {kind!r}; use one of {', '.join(SourceKind.values)}.", field="kind")
    url = (url or "").strip()
    if kind in (SourceKind.PROMETHEUS, SourceKind.LOKI) and not url:
        raise DomainError(f"A {SOURCE_LABEL[kind]} source needs a URL.", field="url")
    if url and not re.match(r"^https?://", url):
        raise DomainError("The URL must start with http:// or https://.", field="url")
    if not _finite(timeout_seconds) or not 0 < float(timeout_seconds) <= MAX_TIMEOUT_SECONDS:
        raise DomainError(f"The timeout must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds.",
                          field="timeout_seconds")
    if password and not username:
        raise DomainError("A password needs a username.", field="username")
    if kind != SourceKind.KUBERNETES and (kubeconfig or context):
        field = "kubeconfig" if kubeconfig else "context"
        raise DomainError("A kubeconfig and a context apply only to Kubernetes sources.", field=field)

    values = {
        "kind": kind, "url": url, "timeout_seconds": float(timeout_seconds), "verify_tls": verify_tls,
        "auth_token": auth_token or "", "username": username or "", "password": password or "",
        "kubeconfig": kubeconfig or "", "context": context or "",
    }
    if not enabled or not _source_needs_check(instance, values):
        return
    candidate = DataSource(name=name or (instance.name if instance else ""), enabled=True, **values)
    _check_source(candidate)


def _source_needs_check(instance: DataSource | None, values: Mapping[str, Any]) -> bool:
    if instance is None or not instance.enabled:
        return True
    return any(getattr(instance, name) != value for name, value in values.items())


def _check_source(source: DataSource) -> None:
    label = SOURCE_LABEL[source.kind]
    # For a Kubernetes source reached through a kubeconfig, that is where the address lives.
    where_field = "url" if source.url or source.kind != SourceKind.KUBERNETES else "kubeconfig"
    try:
        client = client_for(source)
    except (SourceError, ValueError) as exc:
        raise DomainError(f"Cannot configure the {label} client: {_message(exc)}",
                          field="kubeconfig" if source.kubeconfig else where_field) from exc
    try:
        client.check()
    except AccessDenied as exc:
        raise DomainError(f"{label} refused the credentials: {_message(exc)}", field="auth_token"
                          if source.auth_token else "username" if source.username else where_field) from exc
    except SourceError as exc:
        where = source.url or "the configured cluster"
        raise DomainError(f"{label} at {where} did not answer: {_message(exc)}", field=where_field) from exc


# --------------------------------------------------------------------------------------------
# Detection rules
# --------------------------------------------------------------------------------------------


def rule_validate(
    *,
    rule_type: str,
    source: DataSource | None,
    query: str = "",
    comparator: str = Comparator.GT,
    threshold_value: float | None = None,
    pattern: str = "",
    parameters: Any = None,
    for_seconds: int = 0,
    keep_firing_for_seconds: int = 0,
    evaluation_interval_seconds: int | None = None,
    labels: Any = None,
    annotations: Any = None,
    instance: DetectionRule | None = None,
) -> dict[str, Any]:
    """Check a rule's settings; return the normalised values of the fields it rewrites.

    Settings are checked first, without I/O. Then, for a new rule or when its query, source,
    type, pattern or parameters change, the source runs the query once (``_ask_source``; for
    Kubernetes, by listing pods with the label selector). Raises ``DomainError(field=...)``:
    a rejected query on ``query`` quoting the source, an unreachable source on ``source``.
    Changes nothing.
    """
    if rule_type not in RuleType.values:
        raise DomainError(f"Unknown rule type {rule_type!r}; use one of {', '.join(RuleType.values)}.",
                          field="rule_type")
    if source is None:
        raise DomainError("A rule needs a data source.", field="source")
    try:
        comparator = normalize_comparator(comparator or "")
    except ValueError:
        raise DomainError(f"Unknown comparator {comparator!r}; use one of {', '.join(Comparator.values)}.",
                          field="comparator") from None
    query = (query or "").strip()
    pattern = (pattern or "").strip()
    parameters = _mapping(parameters, "parameters")
    _check_string_map(labels, "labels")
    _check_string_map(annotations, "annotations")
    _check_durations(for_seconds, keep_firing_for_seconds, evaluation_interval_seconds)
    if threshold_value is not None and not _finite(threshold_value):
        raise DomainError("The threshold must be a finite number.", field="threshold_value")
    if pattern and rule_type != RuleType.PATTERN:
        raise DomainError("A pattern applies only to pattern rules; leave it empty.", field="pattern")

    if rule_type == RuleType.THRESHOLD:
        _check_metric_source(source, "Threshold rules")
        if threshold_value is None:
            raise DomainError("Threshold rules need a threshold value.", field="threshold_value")
        _require_query(query)
        _check_loki_query_kind(source, query, metric=True)
    elif rule_type == RuleType.PATTERN:
        _check_pattern(source, query, pattern, threshold_value, parameters)
    else:
        _check_metric_source(source, "Anomaly rules")
        _require_query(query)
        _check_loki_query_kind(source, query, metric=True)
        _check_anomaly_parameters(parameters)

    if _rule_needs_check(instance, rule_type=rule_type, source=source, query=query, pattern=pattern,
                         parameters=parameters):
        _check_query(source, rule_type, query, pattern, parameters)
    return {"comparator": comparator, "query": query, "pattern": pattern, "parameters": parameters}


def _check_pattern(
    source: DataSource, query: str, pattern: str, threshold_value: float | None, parameters: dict[str, Any]
) -> None:
    if not pattern:
        raise DomainError(f"Pattern rules need a pattern: one of {', '.join(KNOWN_PATTERNS)}.", field="pattern")
    spec = KNOWN_PATTERNS.get(pattern)
    if spec is None:
        raise DomainError(f"Unknown pattern {pattern!r}; known: {', '.join(KNOWN_PATTERNS)}.", field="pattern")
    wanted = PATTERN_SOURCE[spec.kind]
    if source.kind != wanted:
        reads = "pod states" if spec.kind == "pod" else "logs"
        raise DomainError(f"{spec.name} reads {reads}: it needs a {SOURCE_LABEL[wanted]} source, "
                          f"and {source.name} is {SOURCE_LABEL.get(source.kind, source.kind)}.", field="source")
    if spec.kind == "pod":
        namespace = parameters.get("namespace", "")
        if not isinstance(namespace, str):
            raise DomainError("parameters.namespace must be a string.", field="parameters")
        _positive_number(parameters, "lookback_seconds")
        return
    _require_query(query)
    _check_loki_query_kind(source, query, metric=spec.kind == "log_count")
    if spec.kind == "log_line":
        if threshold_value is not None and (threshold_value < 1 or threshold_value != int(threshold_value)):
            raise DomainError("For LogLineMatch the threshold is the minimum count of matching lines: "
                              "a whole number of at least 1.", field="threshold_value")
        _positive_number(parameters, "window_seconds")
        regex = parameters.get("regex")
        if regex is not None:
            if not isinstance(regex, str) or not regex:
                raise DomainError("parameters.regex must be a non-empty string.", field="parameters")
            try:
                re.compile(regex)
            except re.error as exc:
                raise DomainError(f"parameters.regex is not a valid regular expression: {exc}",
                                  field="parameters") from exc


def _check_anomaly_parameters(parameters: dict[str, Any]) -> None:
    window = _positive_number(parameters, "window_seconds") or 3600.0
    step = _positive_number(parameters, "step_seconds") or 60.0
    raw = parameters.get("anomaly", {})
    if not isinstance(raw, dict):
        raise DomainError("parameters.anomaly must be an object of AnomalyConfig settings.", field="parameters")
    try:
        config = AnomalyConfig(**raw)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"parameters.anomaly: {exc}", field="parameters") from exc
    points = int(window // step) + 1
    if points < config.min_points:
        raise DomainError(f"window_seconds/step_seconds give {points} points, fewer than the "
                          f"{config.min_points} the detector needs before it scores anything.", field="parameters")
    if points > MAX_RANGE_POINTS:
        raise DomainError(f"window_seconds/step_seconds give {points} points; sources refuse more than "
                          f"{MAX_RANGE_POINTS} per series.", field="parameters")


def _check_metric_source(source: DataSource, what: str) -> None:
    if source.kind not in (SourceKind.PROMETHEUS, SourceKind.LOKI):
        raise DomainError(f"{what} need a Prometheus or Loki source; {source.name} is "
                          f"{SOURCE_LABEL.get(source.kind, source.kind)}.", field="source")


def _check_loki_query_kind(source: DataSource, query: str, *, metric: bool) -> None:
    # LogQL log queries, and only they, begin with a stream selector; telling the two apart here
    # gives a clearer message than the empty or wrongly shaped result the rule would otherwise get.
    if source.kind != SourceKind.LOKI:
        return
    is_log_query = query.startswith("{")
    if metric and is_log_query:
        raise DomainError('This is a log query; this rule needs a metric query such as '
                          'sum by (app) (count_over_time({app="x"} |= "error" [5m])).', field="query")
    if not metric and not is_log_query:
        raise DomainError('This rule reads log lines: the query must be a log query such as '
                          '{app="x"} |= "error".', field="query")


def _rule_needs_check(instance: DetectionRule | None, **values: Any) -> bool:
    if instance is None:
        return True
    current = {
        "rule_type": instance.rule_type,
        "source": instance.source_id,
        "query": instance.query,
        "pattern": instance.pattern,
        "parameters": instance.parameters or {},
    }
    values["source"] = values["source"].pk
    return any(current[name] != values[name] for name in RULE_QUERY_FIELDS)


def _check_query(source: DataSource, rule_type: str, query: str, pattern: str, parameters: Mapping[str, Any]) -> None:
    label = SOURCE_LABEL.get(source.kind, source.kind)
    try:
        _ask_source(client_for(source), source, rule_type, query, pattern, parameters)
    except BadQuery as exc:
        what = "label selector" if source.kind == SourceKind.KUBERNETES else "query"
        raise DomainError(f"{label} rejected the {what}: {_message(exc)}", field="query") from exc
    except BadResponse as exc:
        raise DomainError(f"{label} answered this query with something a rule cannot use: {_message(exc)}",
                          field="query") from exc
    except AccessDenied as exc:
        raise DomainError(f"Source {source.name} refused the request: {_message(exc)}", field="source") from exc
    except (SourceError, ValueError) as exc:
        raise DomainError(f"Source {source.name} did not answer: {_message(exc)}", field="source") from exc


def _ask_source(client: Any, source: DataSource, rule_type: str, query: str, pattern: str,
                parameters: Mapping[str, Any]) -> None:
    """Run the query once, shaped as the evaluator will run it (see ``detection.evaluation``).

    ``client.validate`` would accept any valid expression; asking in the evaluator's shape also
    catches a range vector in a threshold rule or a log query where a count is needed, in the
    source's (or the client's) own words. Small ranges and limits keep it cheap.
    """
    now = time.time()
    if source.kind == SourceKind.KUBERNETES:
        # No dry-run endpoint for selectors: the API server parses one when listing pods.
        client.pods(namespace=parameters.get("namespace") or None, label_selector=query)
    elif rule_type == RuleType.ANOMALY:
        step = float(parameters.get("step_seconds", 60))
        client.range(query, now - step, now, step)
    elif rule_type == RuleType.PATTERN and KNOWN_PATTERNS[pattern].kind == "log_line":
        client.logs(query, now - 1, now, limit=1)
    else:
        client.instant(query)


# --------------------------------------------------------------------------------------------
# Small checks
# --------------------------------------------------------------------------------------------


def _require_query(query: str) -> None:
    if not query:
        raise DomainError("This rule needs a query.", field="query")


def _check_durations(for_seconds: Any, keep_firing_for_seconds: Any, interval: Any) -> None:
    for field, value in (("for_seconds", for_seconds), ("keep_firing_for_seconds", keep_firing_for_seconds)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DomainError("Must be a whole number of seconds, 0 or more.", field=field)
    if interval is not None and (not isinstance(interval, int) or isinstance(interval, bool) or interval < 1):
        raise DomainError("Must be a whole number of seconds, at least 1, or empty for the default.",
                          field="evaluation_interval_seconds")


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DomainError(f"{field} must be a JSON object.", field=field)
    return value


def _check_string_map(value: Any, field: str) -> None:
    mapping = _mapping(value, field)
    for key, item in mapping.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise DomainError(f"{field} must map names to strings; {key!r} does not.", field=field)


def _positive_number(parameters: Mapping[str, Any], name: str) -> float | None:
    if name not in parameters:
        return None
    value = parameters[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) or value <= 0:
        raise DomainError(f"parameters.{name} must be a positive number of seconds.", field="parameters")
    return float(value)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def as_validation_error(exc: DomainError) -> ValidationError:
    """The same problem as a Django form error, on the same field."""
    return ValidationError({exc.field: [exc.message]} if exc.field else [exc.message])
