"""The only module that speaks Loki's HTTP API (``/loki/api/v1/query``, ``/query_range``, ``/ready``).

Metric LogQL (``count_over_time(...)``, ``rate(...)``) answers like Prometheus: a vector for an
instant query, a matrix for a range. Log queries answer with streams whose entries carry
nanosecond timestamps as strings. Loki reports a rejected query as a plain-text 400 body.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import requests

from detection.sources.base import (
    BadQuery,
    BadResponse,
    LogLine,
    Sample,
    Series,
    SourceClient,
    SourceConfig,
    as_list,
    body_excerpt,
    decode_json,
    http_request,
    parse_labels,
    parse_pair,
    parse_sample,
    parse_series,
    raise_for_http_status,
    readiness_check,
)

SOURCE = "Loki"
Direction = Literal["backward", "forward"]


class LokiClient(SourceClient):
    def __init__(self, config: SourceConfig, *, default_limit: int = 1000) -> None:
        if not config.url:
            raise ValueError("a Loki source needs a URL")
        self.config = config
        self.default_limit = default_limit

    # -- metric queries ------------------------------------------------------------------------

    def instant(self, query: str, at: float | datetime | None = None) -> list[Sample]:
        """Evaluate a metric query at one instant (``sum(count_over_time({app="x"}[5m]))``)."""
        params: dict[str, Any] = {"query": query}
        if at is not None:
            params["time"] = _ns(at)
        data = self._get("/loki/api/v1/query", params)
        result_type, result = data["resultType"], data["result"]
        if result_type == "vector":
            return [parse_sample(item) for item in as_list(result)]
        if result_type == "scalar":
            ts, value = parse_pair(result)
            return [Sample(labels={}, value=value, timestamp=ts)]
        if result_type == "streams":
            raise BadQuery("this is a log query; a metric rule needs a metric query such as count_over_time(...)")
        raise BadResponse(f"{SOURCE} returned a {result_type!r} result where a vector was expected")

    def range(self, query: str, start: float | datetime, end: float | datetime, step: float) -> list[Series]:
        """Evaluate a metric query every ``step`` seconds from ``start`` to ``end``."""
        if step <= 0:
            raise ValueError("step must be positive")
        params = {"query": query, "start": _ns(start), "end": _ns(end), "step": f"{step:g}s"}
        data = self._get("/loki/api/v1/query_range", params)
        if data["resultType"] == "streams":
            raise BadQuery("this is a log query; a metric rule needs a metric query such as count_over_time(...)")
        if data["resultType"] != "matrix":
            raise BadResponse(f"{SOURCE} returned a {data['resultType']!r} result for a range query")
        return [parse_series(item) for item in as_list(data["result"])]

    # -- log queries ---------------------------------------------------------------------------

    def logs(
        self,
        query: str,
        start: float | datetime,
        end: float | datetime,
        *,
        limit: int | None = None,
        direction: Direction = "backward",
    ) -> list[LogLine]:
        """Log lines matching a log query (``{app="checkout"} |= "panic"``), newest first by default."""
        params = {
            "query": query,
            "start": _ns(start),
            "end": _ns(end),
            "limit": limit or self.default_limit,
            "direction": direction,
        }
        data = self._get("/loki/api/v1/query_range", params)
        if data["resultType"] != "streams":
            raise BadQuery('this is a metric query; log lines need a log query such as {app="x"} |= "error"')
        return _log_lines(data["result"], newest_first=direction == "backward")

    def validate(self, query: str) -> None:
        """Raise ``BadQuery`` with Loki's message when ``query`` is not valid LogQL.

        Uses a one-second range query because Loki rejects log queries on the instant endpoint,
        and a range query accepts both kinds.
        """
        now = time.time()
        self._get(
            "/loki/api/v1/query_range",
            {"query": query, "start": _ns(now - 1), "end": _ns(now), "limit": 1, "step": "1s"},
        )

    # -- health --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise a ``SourceError`` unless the source says it is ready to serve queries."""
        readiness_check(self.config, "/ready", source=SOURCE)

    # -- plumbing ------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = http_request(self.config, "GET", path, params=params)
        return _unwrap(response)


def _unwrap(response: requests.Response) -> dict[str, Any]:
    status = response.status_code
    if status == 400:
        raise BadQuery(_error_message(response), status=status)
    raise_for_http_status(response, source=SOURCE)
    if status != 200:
        raise BadResponse(f"{SOURCE} answered {status}: {body_excerpt(response)}", status=status)
    body = decode_json(response, source=SOURCE)
    if not isinstance(body, dict) or body.get("status") != "success":
        raise BadResponse(f"{SOURCE} answered without a success envelope: {body_excerpt(response)}")
    data = body.get("data")
    if not isinstance(data, dict) or "resultType" not in data or "result" not in data:
        raise BadResponse(f"{SOURCE} answered without data.resultType/data.result: {body_excerpt(response)}")
    return data


def _error_message(response: requests.Response) -> str:
    """Loki's words, whether it sent them as plain text or (behind some gateways) as JSON."""
    text = response.text.strip()
    try:
        body = response.json()
    except ValueError:
        return text
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str):
                return body[key]
    return text


def _ns(value: float | datetime) -> int:
    """Seconds (or a datetime) as the integer nanoseconds Loki reads bare numbers as.

    Through Decimal of the float's shortest repr, because ``1700000000.25 * 1e9`` in binary
    floating point is ``...249999872``.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - _EPOCH) // timedelta(microseconds=1) * 1000
    return int((Decimal(repr(float(value))) * 1_000_000_000).to_integral_value())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _log_lines(result: Any, *, newest_first: bool) -> list[LogLine]:
    lines: list[LogLine] = []
    for stream in as_list(result):
        if not isinstance(stream, dict) or "values" not in stream:
            raise BadResponse(f"stream without values: {stream!r:.120}")
        labels = parse_labels(stream.get("stream", {}))
        for entry in as_list(stream["values"]):
            # A third element holds structured metadata on newer Loki versions; labels suffice here.
            if not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[1], str):
                raise BadResponse(f'log entry is not ["<ns>", "<line>"]: {entry!r:.120}')
            try:
                ns = int(entry[0])
            except (TypeError, ValueError) as exc:
                raise BadResponse(f"log timestamp {entry[0]!r} is not nanoseconds") from exc
            lines.append(LogLine(labels=labels, timestamp=ns / 1e9, line=entry[1], timestamp_ns=ns))
    # Loki orders entries within a stream, not across streams.
    lines.sort(key=lambda line: line.timestamp_ns, reverse=newest_first)
    return lines
