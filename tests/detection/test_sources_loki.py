"""LokiClient against a server answering with the bodies Loki's HTTP API documents."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from detection.sources.base import BadQuery, BadResponse, SourceConfig, SourceUnavailable
from detection.sources.loki import LokiClient
from tests.support.fixture_http import FIXTURES, FixtureServer, fixture

QUERY = "/loki/api/v1/query"
QUERY_RANGE = "/loki/api/v1/query_range"


def _client(server: FixtureServer, **config: Any) -> LokiClient:
    return LokiClient(SourceConfig(url=server.url, **config))


def test_instant_metric_query_returns_samples(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY, fixture("loki_query_vector.json"))

    samples = _client(fixture_server).instant('sum by (app, level) (count_over_time({namespace="shop"}[5m]))')

    by_app = {s.labels["app"]: s for s in samples}
    assert by_app["checkout"].value == 42.0
    assert by_app["checkout"].labels == {"app": "checkout", "level": "error"}
    assert by_app["checkout"].timestamp == 1700000000.0
    assert by_app["payments"].value == 3.0
    assert math.isnan(by_app["search"].value)


def test_range_metric_query_returns_series_with_infinities(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY_RANGE, fixture("loki_query_range_matrix.json"))

    series = _client(fixture_server).range('sum by (app) (rate({app=~".+"}[1m]))', 1700000000, 1700000120, step=60)

    by_app = {s.labels["app"]: s for s in series}
    assert by_app["checkout"].points == [(1700000000.0, 1.0), (1700000060.0, 4.0), (1700000120.0, 40.0)]
    assert [v for _, v in by_app["payments"].points] == [0.0, math.inf, -math.inf]
    (request,) = fixture_server.requests_to(QUERY_RANGE)
    assert request.params["start"] == "1700000000000000000"
    assert request.params["end"] == "1700000120000000000"
    assert request.params["step"] == "60s"


def test_log_query_returns_lines_newest_first_with_exact_nanoseconds(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY_RANGE, fixture("loki_query_range_streams.json"))

    lines = _client(fixture_server).logs('{app="checkout"} |= "error"', 1700000000, 1700000200, limit=50)

    assert [line.timestamp_ns for line in lines] == [
        1700000120000000003,
        1700000100000000000,
        1700000090000000000,
        1700000060000000000,
        1700000030000000000,
    ]
    assert lines[0].line.startswith("panic: runtime error")
    assert lines[0].labels["pod"] == "checkout-7d9f8b6c5-x2x9k"
    assert lines[0].timestamp == pytest.approx(1700000120.0)
    # The entry carrying structured metadata as a third element is read like the others.
    assert lines[1].labels["pod"] == "checkout-7d9f8b6c5-q8w7e"
    (request,) = fixture_server.requests_to(QUERY_RANGE)
    assert request.params["limit"] == "50"
    assert request.params["direction"] == "backward"


def test_forward_log_query_is_oldest_first(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY_RANGE, fixture("loki_query_streams.json"))

    lines = _client(fixture_server).logs('{namespace="shop"}', 1700000000, 1700000010, direction="forward")

    assert [line.timestamp_ns for line in lines] == sorted(line.timestamp_ns for line in lines)
    assert fixture_server.requests_to(QUERY_RANGE)[0].params["direction"] == "forward"


def test_log_query_on_a_metric_endpoint_is_a_bad_query(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY, fixture("loki_query_streams.json"))
    fixture_server.add("GET", QUERY_RANGE, fixture("loki_query_streams.json"))
    client = _client(fixture_server)

    with pytest.raises(BadQuery, match="log query"):
        client.instant('{app="checkout"}')
    with pytest.raises(BadQuery, match="log query"):
        client.range('{app="checkout"}', 0, 60, step=10)


def test_metric_query_for_log_lines_is_a_bad_query(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY_RANGE, fixture("loki_query_range_matrix.json"))

    with pytest.raises(BadQuery, match="metric query"):
        _client(fixture_server).logs('rate({app="x"}[1m])', 0, 60)


def test_rejected_logql_is_quoted_verbatim(fixture_server: FixtureServer) -> None:
    message = (FIXTURES / "loki_parse_error.txt").read_text()
    fixture_server.add("GET", QUERY, message, status=400)
    fixture_server.add("GET", QUERY_RANGE, message, status=400)
    client = _client(fixture_server)

    with pytest.raises(BadQuery) as excinfo:
        client.instant("{app=checkout}")
    assert str(excinfo.value) == message.strip()
    assert excinfo.value.status == 400

    with pytest.raises(BadQuery, match="unexpected IDENTIFIER"):
        client.validate("{app=checkout}")


def test_validate_accepts_log_and_metric_queries(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY_RANGE, fixture("loki_query_range_streams.json"), params={"query": '{app="x"}'})
    fixture_server.add(
        "GET", QUERY_RANGE, fixture("loki_query_range_matrix.json"), params={"query": 'rate({app="x"}[1m])'}
    )
    client = _client(fixture_server)

    client.validate('{app="x"}')
    client.validate('rate({app="x"}[1m])')

    first = fixture_server.requests_to(QUERY_RANGE)[0]
    assert int(first.params["end"]) - int(first.params["start"]) == 1_000_000_000
    assert first.params["limit"] == "1"


def test_instant_query_at_a_time_sends_nanoseconds(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY, fixture("loki_query_vector.json"))

    _client(fixture_server).instant('count_over_time({app="x"}[1m])', at=1700000000.25)

    assert fixture_server.requests_to(QUERY)[0].params["time"] == "1700000000250000000"


def test_server_error_is_unavailable(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY, "too many outstanding requests", status=500)

    with pytest.raises(SourceUnavailable, match="too many outstanding requests"):
        _client(fixture_server).instant('count_over_time({app="x"}[1m])')


def test_garbage_is_a_bad_response(fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("garbage")

    with pytest.raises(BadResponse):
        _client(fixture_server).instant('count_over_time({app="x"}[1m])')


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}, "values": [["x", "l"]]}]}},
        {"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}, "values": [["1", 5]]}]}},
        {"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}}]}},
        {"status": "failure"},
    ],
    ids=["timestamp-not-ns", "line-not-text", "no-values", "no-success"],
)
def test_wrong_shapes_are_bad_responses(fixture_server: FixtureServer, body: object) -> None:
    fixture_server.add("GET", QUERY_RANGE, body)

    with pytest.raises(BadResponse):
        _client(fixture_server).logs('{app="x"}', 0, 10)


def test_hanging_loki_times_out_as_unavailable(fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("hang")
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match="did not answer"):
        _client(fixture_server, timeout_seconds=0.5).logs('{app="x"}', 0, 10)

    assert time.monotonic() - started < 1.5


def test_ready_and_check(fixture_server: FixtureServer) -> None:
    client = _client(fixture_server, max_retries=0)
    fixture_server.add("GET", "/ready", "Ingester not ready: waiting for 15s after being ready", status=503)
    assert client.ready() is False

    fixture_server.add("GET", "/ready", "ready\n")
    assert client.ready() is True
    client.check()


def test_credentials_and_tenant_header_are_sent(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", QUERY, fixture("loki_query_vector.json"))

    _client(fixture_server, username="tenant-1", password="pw", extra_headers={"X-Scope-OrgID": "tenant-1"}).instant(
        'count_over_time({app="x"}[1m])'
    )

    (request,) = fixture_server.requests_to(QUERY)
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.headers["X-Scope-OrgID"] == "tenant-1"
