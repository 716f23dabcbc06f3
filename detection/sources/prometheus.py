"""The only module that speaks Prometheus' HTTP API (``/api/v1``, ``/-/ready``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from detection.sources.base import (
    BadQuery,
    BadResponse,
    Sample,
    Series,
    SourceClient,
    SourceConfig,
    SourceUnavailable,
    as_list,
    body_excerpt,
    decode_json,
    http_request,
    parse_pair,
    parse_sample,
    parse_series,
    raise_for_http_status,
    readiness_check,
    timestamp_seconds,
)

SOURCE = "Prometheus"

# errorType values that mean the expression itself is at fault, whatever the HTTP status.
_QUERY_ERROR_TYPES = {"bad_data", "execution"}


class PrometheusClient(SourceClient):
    def __init__(self, config: SourceConfig) -> None:
        if not config.url:
            raise ValueError("a Prometheus source needs a URL")
        self.config = config

    # -- queries -------------------------------------------------------------------------------

    def instant(self, query: str, at: float | datetime | None = None) -> list[Sample]:
        """Evaluate ``query`` at one instant; a scalar comes back as one unlabeled sample."""
        form = {"query": query, **self._server_timeout()}
        if at is not None:
            form["time"] = _fmt_time(at)
        data = self._query("/api/v1/query", form)
        result_type, result = data["resultType"], data["result"]
        if result_type == "vector":
            return [parse_sample(item) for item in as_list(result)]
        if result_type == "scalar":
            ts, value = parse_pair(result)
            return [Sample(labels={}, value=value, timestamp=ts)]
        if result_type == "matrix":
            raise BadQuery(
                "the query returns a range vector; an instant rule needs an instant vector "
                "(wrap it in a function such as rate() or last_over_time())"
            )
        raise BadResponse(f"{SOURCE} returned a {result_type!r} result where a vector or scalar was expected")

    def range(
        self,
        query: str,
        start: float | datetime,
        end: float | datetime,
        step: float,
    ) -> list[Series]:
        """Evaluate ``query`` every ``step`` seconds from ``start`` to ``end``."""
        if step <= 0:
            raise ValueError("step must be positive")
        form = {
            "query": query,
            "start": _fmt_time(start),
            "end": _fmt_time(end),
            "step": f"{step:g}",
            **self._server_timeout(),
        }
        data = self._query("/api/v1/query_range", form)
        if data["resultType"] != "matrix":
            raise BadResponse(f"{SOURCE} returned a {data['resultType']!r} result for a range query")
        return [parse_series(item) for item in as_list(data["result"])]

    def validate(self, query: str) -> None:
        """Raise ``BadQuery`` with Prometheus' own message when ``query`` does not parse or run.

        Prometheus 2.x has no parse-only endpoint that all versions share, so this evaluates the
        query once; range vectors are valid PromQL and therefore accepted.
        """
        self._query("/api/v1/query", {"query": query, **self._server_timeout()})

    # -- health --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise a ``SourceError`` unless the source says it is ready to serve queries."""
        readiness_check(self.config, "/-/ready", source=SOURCE)

    # -- plumbing ------------------------------------------------------------------------------

    def _server_timeout(self) -> dict[str, str]:
        # Let Prometheus give up when we do, instead of computing an answer nobody reads.
        return {"timeout": f"{self.config.timeout_seconds:g}s"}

    def _query(self, path: str, form: dict[str, Any]) -> dict[str, Any]:
        # POSTed as a form so long queries do not hit URL length limits.
        response = http_request(self.config, "POST", path, data=form)
        return _unwrap(response)


def _unwrap(response: requests.Response) -> dict[str, Any]:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        message = str(body.get("error") or "unknown error")
        error_type = str(body.get("errorType") or "")
        if error_type in _QUERY_ERROR_TYPES or status in (400, 422):
            raise BadQuery(message, status=status)
        if error_type in ("timeout", "canceled", "unavailable") or status >= 500:
            raise SourceUnavailable(f"{SOURCE} {error_type or 'error'}: {message}", status=status)
        raise BadResponse(f"{SOURCE} {error_type or 'error'} ({status}): {message}", status=status)
    raise_for_http_status(response, source=SOURCE)
    if body is None:
        decode_json(response, source=SOURCE)  # raises with an excerpt of the body
    if status != 200:
        raise BadResponse(f"{SOURCE} answered {status}: {body_excerpt(response)}", status=status)
    if not isinstance(body, dict) or body.get("status") != "success":
        raise BadResponse(f"{SOURCE} answered without a success envelope: {body_excerpt(response)}")
    data = body.get("data")
    if not isinstance(data, dict) or "resultType" not in data or "result" not in data:
        raise BadResponse(f"{SOURCE} answered without data.resultType/data.result: {body_excerpt(response)}")
    return data


def _fmt_time(value: float | datetime) -> str:
    return f"{timestamp_seconds(value):.3f}"


