"""Each collector against a server answering in its API's documented shape (tests/support/fixtures).

The canned Kubernetes and Loki bodies are from 2023-11-14 around 22:10 UTC, so the windows here
are set around that time.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from correlation.collectors.base import CollectContext, CollectorSkipped, Options, ServiceRef, Window
from correlation.collectors.kubernetes import KubernetesCollector
from correlation.collectors.logs import LogsCollector
from correlation.collectors.metrics import MetricsCollector
from correlation.collectors.traces import FLAVOURS, PROBE, TracesCollector, _queries
from detection.sources import LokiClient, PrometheusClient, SourceConfig
from detection.sources.base import AccessDenied, BadResponse, SourceUnavailable
from detection.sources.kubernetes import KubernetesClient
from tests.correlation.conftest import K8S_TOKEN
from tests.support.fixture_http import FixtureServer, fixture, write_kubeconfig

DETECTED = datetime(2023, 11, 14, 22, 10, tzinfo=UTC).timestamp()
WINDOW = Window(start=DETECTED - 900, end=DETECTED + 300, baseline_start=DETECTED - 1800, detected_at=DETECTED,
                change_start=DETECTED - 4 * 3600)
CHECKOUT = ServiceRef("checkout", "checkout", {"service": "checkout", "namespace": "shop"})
PAYMENTS = ServiceRef("payments", "payments", {"service": "payments", "namespace": "shop"})


def context(*dependencies: ServiceRef, window: Window = WINDOW, **options) -> CollectContext:
    return CollectContext(incident_id=1, service=CHECKOUT, dependencies=dependencies, window=window,
                          options=Options(**options))


@pytest.fixture
def server():
    with FixtureServer(hang_seconds=5) as running:
        yield running


# -- Kubernetes --------------------------------------------------------------------------------

PODS = "/api/v1/namespaces/shop/pods"


def only(body: dict, app: str) -> dict:
    body = copy.deepcopy(body)
    body["items"] = [i for i in body["items"] if i["metadata"]["labels"].get("app") == app]
    return body


@pytest.fixture
def kubernetes(server: FixtureServer, tmp_path: Path) -> KubernetesCollector:
    server.require_token(K8S_TOKEN)
    config = SourceConfig(kubeconfig=str(write_kubeconfig(tmp_path / "kubeconfig", server.url, token=K8S_TOKEN)),
                          timeout_seconds=2)
    return KubernetesCollector(lambda: KubernetesClient(config), "cluster")


def serve_shop(server: FixtureServer) -> None:
    pods = fixture("k8s_pod_list.json")
    server.add("GET", PODS, only(pods, "checkout"), params={"labelSelector": "app=checkout"})
    server.add("GET", PODS, only(pods, "payments"), params={"labelSelector": "app=payments"})
    server.add("GET", "/api/v1/namespaces/shop/events", fixture("k8s_event_list.json"))
    server.add("GET", "/apis/apps/v1/namespaces/shop/deployments", fixture("k8s_deployment_list.json"),
               params={"labelSelector": "app=checkout"})
    server.add("GET", "/apis/apps/v1/namespaces/shop/replicasets", fixture("k8s_replicaset_list.json"),
               params={"labelSelector": "app=checkout"})
    empty = {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []}
    server.add("GET", "/apis/apps/v1/namespaces/shop/deployments", empty, params={"labelSelector": "app=payments"})
    server.add("GET", "/apis/apps/v1/namespaces/shop/replicasets", empty, params={"labelSelector": "app=payments"})


def test_kubernetes_finds_the_rollout_the_crash_loop_the_oom_kill_and_the_image_pull(kubernetes, server):
    serve_shop(server)

    result = kubernetes.collect(context(PAYMENTS))

    found = {f.key: f for f in result.findings}
    assert set(found) == {
        "change:shop/checkout:12",
        "infrastructure:checkout:oom_killed",
        "infrastructure:checkout:crash_loop",
        "infrastructure:payments:image_pull",
    }
    rollout = found["change:shop/checkout:12"]
    assert rollout.title == "Rollout of checkout to revision 12: checkout:2.4.1 (was checkout:2.4.0)"
    assert rollout.onset == datetime(2023, 11, 14, 21, 0, tzinfo=UTC).timestamp()
    assert rollout.magnitude == 1.0  # a new image, and 1 of 3 replicas ready
    assert rollout.evidence["previous"]["revision"] == 11
    crash = found["infrastructure:checkout:crash_loop"]
    assert crash.evidence["pods"][0]["pod"] == "checkout-7d9f8b6c5-x2x9k"
    assert crash.evidence["from_new_replica_sets"] == ["checkout-7d9f8b6c5"]
    assert [e["reason"] for e in crash.evidence["events"]] == ["BackOff"], "the BackOff event joins the crash"
    assert crash.onset == datetime(2023, 11, 14, 22, 8, 41, tzinfo=UTC).timestamp()
    assert crash.onset_is_upper_bound
    oom = found["infrastructure:checkout:oom_killed"]
    assert oom.specificity == 0.9 and oom.magnitude == pytest.approx(0.4 + 0.6 / 2)
    pull = found["infrastructure:payments:image_pull"]
    assert [e["reason"] for e in pull.evidence["events"]] == ["BackOff"]
    assert result.facts == {"pods_total": 2, "pods_affected": ["checkout-7d9f8b6c5-x2x9k"], "namespaces": ["shop"],
                            "selector": "app=checkout"}


def test_kubernetes_refused_for_the_service_fails_but_for_a_dependency_is_noted(kubernetes, server):
    serve_shop(server)
    server.add("GET", PODS, {"kind": "Status", "code": 403, "message": "forbidden"}, status=403,
               params={"labelSelector": "app=payments"})

    result = kubernetes.collect(context(PAYMENTS))
    assert any("pods of payments could not be read" in note for note in result.notes)
    assert result.findings

    server.add("GET", PODS, {"kind": "Status", "code": 403, "message": "forbidden"}, status=403,
               params={"labelSelector": "app=checkout"})
    with pytest.raises(AccessDenied):
        kubernetes.collect(context(PAYMENTS))


def test_a_rollout_before_the_change_window_is_not_a_finding(kubernetes, server):
    serve_shop(server)
    late = Window(start=WINDOW.start, end=WINDOW.end, baseline_start=WINDOW.baseline_start, detected_at=DETECTED,
                  change_start=DETECTED - 3600)

    keys = {f.key for f in kubernetes.collect(context(window=late)).findings}

    assert "change:shop/checkout:12" not in keys


# -- Loki ---------------------------------------------------------------------------------------

LOKI_WINDOW = Window(start=1700000000, end=1700000200, baseline_start=1699999800, detected_at=1700000100,
                     change_start=1699990000)


def test_logs_group_the_window_s_error_lines_into_new_templates(server):
    server.add("GET", "/loki/api/v1/query_range", fixture("loki_query_range_streams.json"))
    collector = LogsCollector(lambda: LokiClient(SourceConfig(url=server.url)), "loki")

    result = collector.collect(context(window=LOKI_WINDOW))

    (finding,) = result.findings  # the single panic line is too rare to be a template finding
    assert finding.signal == "new_log_template"
    assert finding.evidence["template"] == 'level=error msg="payment gateway timeout" order=<NUM>'
    assert finding.evidence["count"] == 4 and finding.evidence["baseline_count"] == 0
    assert finding.onset == pytest.approx(1700000030)
    assert len(finding.evidence["examples"]) == 3
    assert result.facts == {"error_lines": 5, "baseline_error_lines": 0}
    query = server.requests_to("/loki/api/v1/query_range")[0].params["query"]
    assert query.startswith('{namespace="shop",service="checkout"} |~ `(?i)(error')


def test_a_template_as_frequent_as_in_the_baseline_is_not_news(server):
    body = fixture("loki_query_range_streams.json")
    stream = body["data"]["result"][0]
    stream["values"] += [[str((1699999900 + i) * 10**9), f'level=error msg="payment gateway timeout" order={i}']
                         for i in range(6)]
    server.add("GET", "/loki/api/v1/query_range", body)
    collector = LogsCollector(lambda: LokiClient(SourceConfig(url=server.url)), "loki")

    assert collector.collect(context(window=LOKI_WINDOW)).findings == []


def test_loki_answering_garbage_is_the_collector_s_error(server):
    server.answer_all("garbage", status=200)
    collector = LogsCollector(lambda: LokiClient(SourceConfig(url=server.url)), "loki")
    with pytest.raises(BadResponse):
        collector.collect(context(window=LOKI_WINDOW))


# -- Prometheus: metrics and span metrics ---------------------------------------------------------


def matrix(*series: tuple[dict, list[tuple[float, float]]]) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": labels, "values": [[t, str(v)] for t, v in points]} for labels, points in series
    ]}}


def rising(start: float, before: int, after: int, level: float) -> list[tuple[float, float]]:
    return [(start + i, 0.0) for i in range(before)] + [(start + before + i, level) for i in range(after)]


SHORT = Window(start=1700000020, end=1700000040, baseline_start=1700000000, detected_at=1700000030,
               change_start=1699990000)


def test_metrics_note_a_rejected_query_and_go_on(server):
    server.add("POST", "/api/v1/query_range", matrix(({}, [(1700000000 + i, 40.0) for i in range(40)])))
    server.add("POST", "/api/v1/query_range", matrix(({}, rising(1700000000, 25, 15, 0.3))),
               params={"query": 'sum(rate(http_requests_total{service="checkout",code=~"5.."}[1m]))'
                                ' / sum(rate(http_requests_total{service="checkout"}[1m]))'})
    server.add("POST", "/api/v1/query_range", fixture("prometheus_error_bad_data.json"), status=400,
               params={"query": 'sum(container_memory_working_set_bytes{service="checkout"})'})
    collector = MetricsCollector(lambda: PrometheusClient(SourceConfig(url=server.url)), "prom")
    service = ServiceRef("checkout", "checkout", {"service": "checkout"})

    result = collector.collect(CollectContext(1, service, (), SHORT, Options()))

    assert [f.key for f in result.findings] == ["metrics:checkout:error_ratio"]
    assert result.findings[0].onset == 1700000025
    assert result.notes == ["memory of checkout: the query was rejected: "
                            'invalid parameter "query": 1:14: parse error: unexpected end of input']
    assert result.facts["error_ratio_last"] == 0.3


def test_metrics_from_a_prometheus_that_is_down_fail(server):
    server.answer_all("error", status=503)
    collector = MetricsCollector(lambda: PrometheusClient(SourceConfig(url=server.url, max_retries=0)), "prom")
    with pytest.raises(SourceUnavailable):
        collector.collect(context(window=SHORT))


def test_traces_read_span_metrics_and_name_the_erroring_span(server):
    tempo = FLAVOURS[0]
    payments = ServiceRef("payments", "payments", {"service": "payments"})
    server.add("POST", "/api/v1/query", {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "traces_spanmetrics_calls_total"}, "value": [1700000040, "12"]}]}},
        params={"query": PROBE})
    server.add("POST", "/api/v1/query_range", matrix())
    queries = _queries(tempo, payments, "1m")
    server.add("POST", "/api/v1/query_range", matrix(
        ({"span_name": "POST /charge"}, rising(1700000000, 22, 18, 0.6)),
        ({"span_name": "GET /health"}, [(1700000000 + i, 0.0) for i in range(40)]),
    ), params={"query": queries["span_error_ratio"]})
    collector = TracesCollector(lambda: PrometheusClient(SourceConfig(url=server.url)), "prom")

    result = collector.collect(context(payments, window=SHORT))

    assert result.facts == {"span_metrics": "tempo"}
    (finding,) = result.findings
    assert finding.key == "traces:payments:POST /charge:span_error_ratio"
    assert finding.kind == "traces" and finding.onset == 1700000022
    assert finding.title == "Span error ratio of payments (POST /charge) rose from 0.0% to 60.0%"
    assert 'traces_spanmetrics_calls_total{service="payments",status_code="STATUS_CODE_ERROR"}' in (
        finding.evidence["query"]
    )


def test_traces_without_span_metrics_skip_and_say_so(server):
    server.add("POST", "/api/v1/query", {"status": "success", "data": {"resultType": "vector", "result": []}})
    collector = TracesCollector(lambda: PrometheusClient(SourceConfig(url=server.url)), "prom")
    with pytest.raises(CollectorSkipped, match="no traces source: Prometheus 'prom' has no span metrics"):
        collector.collect(context(window=SHORT))
