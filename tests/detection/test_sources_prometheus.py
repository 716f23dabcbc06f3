"""PrometheusClient against a real Prometheus scraping a real exporter, and against misbehaving servers."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from detection.sources.base import (
    AccessDenied,
    BadQuery,
    BadResponse,
    SourceConfig,
    SourceUnavailable,
)
from detection.sources.prometheus import PrometheusClient
from tests.support.fixture_http import FixtureServer, fixture
from tests.support.prometheus import ExporterProcess, PrometheusProcess, free_port, start_prometheus, wait_for

ERROR_RATIO = (
    'sum by (service) (rate(http_requests_total{code="500"}[3s])) / sum by (service) (rate(http_requests_total[3s]))'
)


@pytest.fixture
def client(prometheus: PrometheusProcess) -> PrometheusClient:
    return PrometheusClient(SourceConfig(url=prometheus.url, timeout_seconds=5))


# -- against the real Prometheus --------------------------------------------------------------


def test_instant_query_returns_one_sample_per_label_set(client: PrometheusClient) -> None:
    samples = client.instant("sum by (service, code) (http_requests_total)")

    assert {(s.labels["service"], s.labels["code"]) for s in samples} == {
        ("checkout", "200"),
        ("checkout", "500"),
        ("payments", "200"),
        ("payments", "500"),
    }
    assert all(isinstance(s.value, float) and s.timestamp > 0 for s in samples)


def test_instant_query_at_a_past_time_is_evaluated_then(client: PrometheusClient) -> None:
    at = time.time() - 1
    samples = client.instant('up{job="exporter"}', at=at)

    assert len(samples) == 1
    assert samples[0].timestamp == pytest.approx(at, abs=0.001)
    assert samples[0].value == 1.0


def test_scalar_result_becomes_one_sample_without_labels(client: PrometheusClient) -> None:
    samples = client.instant('scalar(sum(up{job="exporter"}))')

    assert len(samples) == 1
    assert samples[0].labels == {}
    assert samples[0].value == 1.0


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("0 / 0", math.isnan),
        ("1 / 0", lambda v: v == math.inf),
        ("-1 / 0", lambda v: v == -math.inf),
        ('sum(up{job="exporter"}) / 0', lambda v: v == math.inf),
    ],
)
def test_nan_and_infinities_arrive_as_floats(client: PrometheusClient, query: str, check) -> None:
    (sample,) = client.instant(query)

    assert check(sample.value)


def test_range_query_returns_a_series_per_label_set(client: PrometheusClient) -> None:
    def query() -> list:
        end = time.time()
        result = client.range("sum by (service) (rate(http_requests_total[3s]))", end - 4, end, step=1)
        return result if all(len(s.points) >= 2 for s in result) else []

    series = wait_for(query, timeout=10, message="two points per series")

    assert {s.labels["service"] for s in series} == {"checkout", "payments"}
    for s in series:
        timestamps = [t for t, _ in s.points]
        assert timestamps == sorted(timestamps)
        assert len(s.points) >= 2
        assert all(v > 0 for _, v in s.points)


def test_empty_result_is_an_empty_list(client: PrometheusClient) -> None:
    assert client.instant('http_requests_total{service="no-such-service"}') == []
    end = time.time()
    assert client.range('up{job="nothing"}', end - 2, end, step=1) == []


def test_string_result_is_a_bad_response(client: PrometheusClient) -> None:
    with pytest.raises(BadResponse, match="string"):
        client.instant('"hello"')


def test_invalid_promql_raises_bad_query_with_prometheus_message(client: PrometheusClient) -> None:
    with pytest.raises(BadQuery) as excinfo:
        client.instant("sum(rate(http_requests_total[5m])")

    assert excinfo.value.status == 400
    assert "parse error" in str(excinfo.value)
    assert "unclosed left parenthesis" in str(excinfo.value)


def test_query_that_cannot_execute_raises_bad_query(client: PrometheusClient) -> None:
    # Many-to-many matching parses, then fails in the engine: Prometheus answers 422 "execution".
    with pytest.raises(BadQuery) as excinfo:
        client.instant("http_requests_total + on(service) http_requests_total")

    assert excinfo.value.status == 422
    assert "matching" in str(excinfo.value)


def test_validate_accepts_good_queries_and_quotes_prometheus_on_bad_ones(client: PrometheusClient) -> None:
    client.validate("histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))")
    client.validate("http_requests_total[5m]")

    with pytest.raises(BadQuery, match="parse error"):
        client.validate("rate(http_requests_total)")


def test_ready_and_check_report_a_running_prometheus(client: PrometheusClient) -> None:
    assert client.ready() is True
    client.check()


def test_flipping_the_exporter_error_rate_shows_up_in_queries(
    client: PrometheusClient, exporter: ExporterProcess
) -> None:
    exporter.set(error_rate=0.5, service="checkout")
    try:
        samples = wait_for(
            lambda: [s for s in client.instant(ERROR_RATIO) if s.labels["service"] == "checkout" and s.value > 0.3],
            timeout=15,
            message="checkout error ratio above 0.3",
        )
        assert samples[0].value == pytest.approx(0.5, abs=0.15)
        payments = [s for s in client.instant(ERROR_RATIO) if s.labels["service"] == "payments"]
        assert payments[0].value == 0.0
    finally:
        exporter.set(error_rate=0.0)


def test_flipping_the_exporter_latency_moves_the_histogram(client: PrometheusClient, exporter: ExporterProcess) -> None:
    p99 = (
        "histogram_quantile(0.99, sum by (service, le) "
        '(rate(http_request_duration_seconds_bucket{service="payments"}[3s])))'
    )
    exporter.set(latency_seconds=2.0, service="payments")
    try:
        wait_for(
            lambda: any(s.value > 1.0 for s in client.instant(p99)),
            timeout=15,
            message="payments p99 above 1s",
        )
    finally:
        exporter.set(latency_seconds=0.05)


def test_stopped_prometheus_is_unavailable(prometheus_bin: str, tmp_path: Path) -> None:
    prom = start_prometheus([], tmp_path)
    stopped = PrometheusClient(SourceConfig(url=prom.url, timeout_seconds=2))
    assert stopped.ready() is True
    prom.stop()

    assert stopped.ready() is False
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        stopped.instant("up")
    with pytest.raises(SourceUnavailable):
        stopped.range("up", time.time() - 10, time.time(), step=1)


# -- against the canned-response server -------------------------------------------------------


def _fixture_client(server: FixtureServer, **config: Any) -> PrometheusClient:
    return PrometheusClient(SourceConfig(url=server.url, **config))


def test_nothing_listening_is_unavailable_quickly() -> None:
    client = PrometheusClient(SourceConfig(url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2))
    started = time.monotonic()

    with pytest.raises(SourceUnavailable):
        client.instant("up")
    assert time.monotonic() - started < 3


def test_server_error_is_unavailable(fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("error", status=500)

    with pytest.raises(SourceUnavailable) as excinfo:
        _fixture_client(fixture_server).instant("up")

    assert excinfo.value.status == 500
    # 500 is not a gateway status: it is not retried.
    assert len(fixture_server.requests_to("/api/v1/query")) == 1


def test_gateway_errors_are_retried_a_bounded_number_of_times(fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("error", status=503)

    with pytest.raises(SourceUnavailable):
        _fixture_client(fixture_server, max_retries=2).instant("up")

    assert len(fixture_server.requests_to("/api/v1/query")) == 3


def test_garbage_body_is_a_bad_response(fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("garbage")

    with pytest.raises(BadResponse, match="not JSON"):
        _fixture_client(fixture_server).instant("up")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/query", {"status": "success"}),
        ("/api/v1/query", {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}),
        ("/api/v1/query", {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "x"]}]}}),
        ("/api/v1/query", ["not", "an", "envelope"]),
        ("/api/v1/query_range", {"status": "success", "data": {"resultType": "matrix", "result": {"a": 1}}}),
        ("/api/v1/query_range", {"status": "success", "data": {"resultType": "vector", "result": []}}),
    ],
    ids=["no-data", "no-value", "value-not-a-number", "not-an-object", "result-not-a-list", "vector-for-range"],
)
def test_wrong_shapes_are_bad_responses(fixture_server: FixtureServer, path: str, body: object) -> None:
    fixture_server.add("POST", path, body)
    client = _fixture_client(fixture_server)

    with pytest.raises(BadResponse):
        if path.endswith("range"):
            client.range("up", 0, 10, 1)
        else:
            client.instant("up")


def test_hanging_server_times_out_as_unavailable(fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("hang")
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match="did not answer within 0.5s"):
        _fixture_client(fixture_server, timeout_seconds=0.5).instant("up")

    # Read timeouts are not retried: one timeout, not three.
    assert time.monotonic() - started < 1.5


def test_bad_data_error_is_quoted_verbatim(fixture_server: FixtureServer) -> None:
    fixture_server.add("POST", "/api/v1/query", fixture("prometheus_error_bad_data.json"), status=400)

    with pytest.raises(BadQuery) as excinfo:
        _fixture_client(fixture_server).instant("sum(up")

    assert str(excinfo.value) == 'invalid parameter "query": 1:14: parse error: unexpected end of input'


def test_query_timeout_error_is_unavailable(fixture_server: FixtureServer) -> None:
    body = {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}
    fixture_server.add("POST", "/api/v1/query", body, status=503)

    with pytest.raises(SourceUnavailable, match="query timed out"):
        _fixture_client(fixture_server, max_retries=0).instant("up")


def test_rejected_credentials_are_access_denied(fixture_server: FixtureServer) -> None:
    fixture_server.add("POST", "/api/v1/query", "Unauthorized", status=401)

    with pytest.raises(AccessDenied):
        _fixture_client(fixture_server).instant("up")


def test_queries_are_posted_as_forms_with_credentials_and_server_timeout(fixture_server: FixtureServer) -> None:
    vector = {"status": "success", "data": {"resultType": "vector", "result": []}}
    fixture_server.add("POST", "/api/v1/query", vector)
    long_query = "sum(" + " + ".join(f'up{{instance="host-{i}"}}' for i in range(400)) + ")"

    _fixture_client(fixture_server, auth_token="s3cret", timeout_seconds=7).instant(long_query, at=1700000000.5)

    (request,) = fixture_server.requests_to("/api/v1/query")
    assert request.method == "POST"
    assert request.params == {"query": long_query, "time": "1700000000.500", "timeout": "7s"}
    assert request.headers["Authorization"] == "Bearer s3cret"


def test_basic_auth_is_sent_when_configured(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", "/-/ready", "Prometheus Server is Ready.\n")

    _fixture_client(fixture_server, username="grafana", password="pw").check()

    (request,) = fixture_server.requests_to("/-/ready")
    assert request.headers["Authorization"].startswith("Basic ")


def test_not_ready_prometheus_fails_the_check(fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", "/-/ready", "Service Unavailable", status=503)
    client = _fixture_client(fixture_server, max_retries=0)

    assert client.ready() is False
    with pytest.raises(SourceUnavailable):
        client.check()
