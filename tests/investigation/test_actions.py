"""Step actions with the real source clients, pointed at canned Loki, Kubernetes and Prometheus
answers (the fixtures of tests/support, from 2023-11-14), and their pure parts as tables."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from correlation.collectors.base import ServiceRef
from correlation.collectors.traces import PROBE
from detection.sources.base import BadQuery, Series, SourceConfig, SourceUnavailable
from detection.sources.kubernetes import KubernetesClient
from detection.sources.loki import LokiClient
from detection.sources.prometheus import PrometheusClient
from investigation.actions import hypothesis_test, kubernetes, logs, metrics, traces
from investigation.actions.base import ActionContext, ActionFailed, Window, json_safe, series_excerpt
from tests.support.fixture_http import FixtureServer, fixture

WINDOW = Window(datetime(2023, 11, 14, 20, 45, tzinfo=UTC), datetime(2023, 11, 14, 22, 30, tzinfo=UTC))
CHECKOUT = ServiceRef(slug="checkout", name="checkout", labels={"app": "checkout", "namespace": "shop"})
PAYMENTS = ServiceRef(slug="payments", name="payments", labels={"service": "payments"})


def context(parameters: dict[str, Any], client: Any = None, **fields: Any) -> ActionContext:
    defaults: dict[str, Any] = {
        "incident_id": 1,
        "service": CHECKOUT,
        "dependencies": (PAYMENTS,),
        "window": WINDOW,
        "parameters": parameters,
        "source_name": "test-source",
        "source_url": "http://prometheus.example",
        "client_factory": (lambda: client) if client is not None else None,
    }
    return ActionContext(**{**defaults, **fields})


# --- Logs ------------------------------------------------------------------------------------


def test_logs_reads_the_services_error_lines_from_loki_and_groups_them(loki_server):
    loki_server.add("GET", "/loki/api/v1/query_range", fixture("loki_query_range_streams.json"))
    client = LokiClient(SourceConfig(url=loki_server.url))

    result = logs.run(context({}, client))

    request = loki_server.requests_to("/loki/api/v1/query_range")[0]
    assert request.params["query"] == '{app="checkout",namespace="shop"} |~ `' + logs.ERROR_PATTERN + "`"
    assert request.params["limit"] == str(logs.DEFAULT_LIMIT)
    data = result.data
    assert (data["lines_read"], data["lines_matched"], data["truncated"]) == (5, 5, False)
    assert data["templates"][0]["count"] == 4
    assert "payment gateway timeout" in data["templates"][0]["template"]
    assert data["lines"][0]["labels"]["pod"].startswith("checkout-")
    assert result.summary.startswith("5 matching log lines for checkout; 2 templates, most frequent ×4:")


def test_logs_keeps_only_the_lines_of_a_template(loki_server):
    loki_server.add("GET", "/loki/api/v1/query_range", fixture("loki_query_range_streams.json"))
    client = LokiClient(SourceConfig(url=loki_server.url))

    result = logs.run(context({"template": 'level=error msg="payment gateway timeout" order=<NUM>'}, client))

    assert result.data["lines_matched"] == 4
    assert all("timeout" in line["line"] for line in result.data["lines"])


def test_logs_with_contains_filters_in_the_query(loki_server):
    loki_server.add(
        "GET", "/loki/api/v1/query_range", {"status": "success", "data": {"resultType": "streams", "result": []}}
    )
    client = LokiClient(SourceConfig(url=loki_server.url))

    result = logs.run(context({"contains": 'say "hi"'}, client))

    assert loki_server.requests[0].params["query"] == '{app="checkout",namespace="shop"} |= `say "hi"`'
    assert result.summary == "No matching log lines for checkout in the window."


@pytest.mark.parametrize(
    ("template", "line", "matches"),
    [
        ("payment gateway timeout order=<NUM>", "payment gateway timeout order=1240", True),
        ("payment gateway timeout order=<NUM>", "payment  gateway timeout order=1", True),
        ("payment gateway timeout order=<NUM>", "payment gateway ok order=1", False),
        ("Connection broken for id <*>, error = <*>", "Connection broken for id 7, error = EOF", True),
        ("panic: (boom) [x]", "panic: (boom) [x]", True),
        ("<*>", "", True),
    ],
)
def test_a_template_matches_the_lines_it_describes(template, line, matches):
    assert bool(logs.template_regex(template).search(line)) is matches


# --- Kubernetes ------------------------------------------------------------------------------


def test_kubernetes_reports_pods_events_and_the_last_rollout(k8s_server):
    server, kubeconfig = k8s_server
    server.add("GET", "/api/v1/namespaces/shop/pods", fixture("k8s_pod_list.json"))
    server.add("GET", "/api/v1/namespaces/shop/events", fixture("k8s_event_list.json"))
    server.add("GET", "/apis/apps/v1/namespaces/shop/deployments", fixture("k8s_deployment_list.json"))
    server.add("GET", "/apis/apps/v1/namespaces/shop/replicasets", fixture("k8s_replicaset_list.json"))
    client = KubernetesClient(SourceConfig(kubeconfig=str(kubeconfig), timeout_seconds=3))

    result = kubernetes.run(context({}, client))

    pods = server.requests_to("/api/v1/namespaces/shop/pods")[0]
    assert pods.params["labelSelector"] == "app=checkout"
    data = result.data
    assert data["pods"]["total"] >= 1
    assert data["pods"]["not_ready"], "the fixture's checkout pods are not all ready"
    assert "CrashLoopBackOff" in data["pods"]["reasons"]
    latest = next(r for r in data["rollouts"] if r["kind"] == "ReplicaSet")
    assert (latest["deployment"], latest["revision"], latest["in_window"]) == ("checkout", 12, True)
    assert any(e["reason"] == "BackOff" for e in data["events"])
    assert "latest rollout: checkout revision 12" in result.summary
    assert "inside the window" in result.summary


def test_kubernetes_without_a_namespace_skips_rollouts_and_says_so(k8s_server):
    server, kubeconfig = k8s_server
    server.add("GET", "/api/v1/pods", fixture("k8s_pod_list.json"))
    server.add("GET", "/api/v1/events", {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": []})
    client = KubernetesClient(SourceConfig(kubeconfig=str(kubeconfig), timeout_seconds=3))

    result = kubernetes.run(context({}, client, service=ServiceRef("checkout", "checkout", {"app": "checkout"})))

    assert "rollouts" not in result.data
    assert result.data["notes"] == ["rollouts need a namespace: set telemetry_labels.namespace or parameters.namespace"]
    assert "no warning events in the window" in result.summary


# --- Metrics ---------------------------------------------------------------------------------


class FakePrometheus:
    """Answers range queries from a dict of query → series; everything else is no data."""

    def __init__(self, answers: dict[str, list[Series]] | None = None, error: Exception | None = None) -> None:
        self.answers = answers or {}
        self.error = error
        self.queries: list[str] = []

    def range(self, query: str, start: Any, end: Any, step: float) -> list[Series]:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        return self.answers.get(query, [])


def test_golden_signals_use_the_services_telemetry_labels():
    error_ratio = metrics.golden_signal_query("error_ratio", PAYMENTS, "1m")
    assert error_ratio == (
        '(sum(rate(http_requests_total{service="payments",code=~"5.."}[1m])) or vector(0))'
        ' / sum(rate(http_requests_total{service="payments"}[1m]))'
    )
    assert metrics.golden_signal_query("p95_latency", PAYMENTS, "5m") == (
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="payments"}[5m])))'
    )


def test_metrics_summarize_each_signal_of_each_service():
    query = metrics.golden_signal_query("error_ratio", PAYMENTS, "1m")
    client = FakePrometheus({query: [Series({}, [(1.0, 0.01), (2.0, 0.2), (3.0, 0.1)])]})

    result = metrics.run(context({"scope": "dependencies", "signals": ["error_ratio", "request_rate"]}, client))

    assert result.summary == "payments: error ratio 10.00 % (peak 20.00 %)."
    assert [q["signal"] for q in result.data["queries"]] == ["error_ratio", "request_rate"]
    assert result.data["links"][0].startswith("http://prometheus.example/graph?g0.expr=")


def test_metrics_note_a_rejected_query_and_go_on():
    client = FakePrometheus(error=BadQuery("parse error"))

    result = metrics.run(context({"signals": ["p95_latency"]}, client))

    assert result.data["notes"] == ["p95 latency of checkout: the query was rejected: parse error"]
    assert result.summary.startswith("No golden-signal data in the window")


def test_metrics_let_an_unreachable_source_fail_the_step():
    with pytest.raises(SourceUnavailable):
        metrics.run(context({}, FakePrometheus(error=SourceUnavailable("connection refused"))))


def test_metrics_of_dependencies_need_dependencies():
    with pytest.raises(ActionFailed, match="calls no other service"):
        metrics.run(context({"scope": "dependencies"}, FakePrometheus(), dependencies=()))


def test_an_explicit_query_is_run_as_given():
    client = FakePrometheus({"up": [Series({"job": "x"}, [(1.0, 1.0)])]})

    result = metrics.run(context({"query": "up"}, client))

    assert client.queries == ["up"]
    assert result.summary == "1 series; job=x: last 1, min 1, max 1."


# --- Traces ----------------------------------------------------------------------------------


def _vector(*samples: tuple[dict[str, str], float]) -> dict[str, Any]:
    result = [{"metric": labels, "value": [1700000000, repr(value)]} for labels, value in samples]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_traces_read_span_metrics_and_rank_spans():
    with FixtureServer() as server:
        server.add("POST", "/api/v1/query", _vector())
        server.add(
            "POST",
            "/api/v1/query",
            _vector(({"__name__": "traces_spanmetrics_calls_total"}, 3.0)),
            params={"query": PROBE},
        )
        queries = traces.span_queries(traces.FLAVOURS[0], "checkout", int(WINDOW.seconds), None)
        server.add(
            "POST",
            "/api/v1/query",
            _vector(({"span_name": "POST /charge"}, 0.3), ({"span_name": "GET /cart"}, 0.0)),
            params={"query": queries["error_ratio"]},
        )
        server.add(
            "POST",
            "/api/v1/query",
            _vector(({"span_name": "POST /charge"}, 1.2), ({"span_name": "GET /cart"}, float("nan"))),
            params={"query": queries["p95_latency_seconds"]},
        )
        client = PrometheusClient(SourceConfig(url=server.url))

        result = traces.run(context({}, client, service=ServiceRef("checkout", "checkout", {"service": "checkout"})))

    assert result.data["span_metrics"] == "tempo"
    assert result.data["most_errors"][0] == {"span": "POST /charge", "error_ratio": 0.3, "p95_latency_seconds": 1.2}
    assert result.data["slowest"][1]["p95_latency_seconds"] is None
    assert result.summary == (
        "2 spans of checkout; most errors: POST /charge (30.00 %); slowest: POST /charge (p95 1200 ms)."
    )


def test_traces_without_span_metrics_cannot_run():
    with FixtureServer() as server:
        server.add("POST", "/api/v1/query", _vector())
        client = PrometheusClient(SourceConfig(url=server.url))
        with pytest.raises(ActionFailed, match="no span metrics"):
            traces.run(context({}, client))


# --- Hypothesis tests ------------------------------------------------------------------------

NAN = float("nan")


@pytest.mark.parametrize(
    ("series", "comparator", "threshold", "aggregate", "verdict"),
    [
        ([({}, [0.01, 0.12, 0.02])], ">", 0.05, "max", "supports"),
        ([({}, [0.01, 0.02])], ">", 0.05, "max", "refutes"),
        ([({}, [0.05])], ">", 0.05, "max", "refutes"),  # exactly at the threshold is not above it
        ([({}, [0.05])], ">=", 0.05, "max", "supports"),
        ([({}, [0.2, 0.01])], ">", 0.05, "last", "refutes"),
        ([({}, [0.2, 0.01])], ">", 0.05, "avg", "supports"),
        ([({}, [0.3, 0.2])], "<", 0.25, "min", "supports"),
        ([({}, [NAN, NAN])], ">", 0.05, "max", "inconclusive"),
        ([({}, [NAN, 0.1])], ">", 0.05, "max", "supports"),
        ([], ">", 0.05, "max", "inconclusive"),
        ([({"route": "a"}, [0.0]), ({"route": "b"}, [0.9])], ">", 0.5, "max", "supports"),
        ([({}, [NAN])], "!=", 1, "last", "inconclusive"),  # NaN never meets an expectation
    ],
)
def test_evaluating_an_expectation(series, comparator, threshold, aggregate, verdict):
    got, observed = hypothesis_test.evaluate(series, comparator=comparator, threshold=threshold, aggregate=aggregate)
    assert got == verdict
    assert len(observed) == len(series)


@pytest.mark.parametrize(
    ("comparator", "aggregate"),
    [(">", "max"), (">=", "max"), ("<", "min"), ("<=", "min"), ("==", "last"), ("!=", "last")],
)
def test_the_default_aggregate_follows_the_comparator(comparator, aggregate):
    assert hypothesis_test.default_aggregate(comparator) == aggregate


def test_a_hypothesis_test_of_a_signal_reports_its_verdict():
    query = metrics.golden_signal_query("error_ratio", PAYMENTS, "1m")
    client = FakePrometheus({query: [Series({}, [(1.0, 0.01), (2.0, 0.09)])]})
    params = {"signal": "error_ratio", "service": "payments", "comparator": ">", "threshold": 0.05}

    result = hypothesis_test.run(context(params, client, service=PAYMENTS))

    assert result.verdict == "supports"
    assert result.data["expectation"] == "max of error ratio of payments > 0.05 during the window"
    assert result.summary == (
        "Supports the hypothesis: max of error ratio of payments was 9.00 %; "
        "expected max of error ratio of payments > 0.05 during the window."
    )


def test_a_hypothesis_test_without_data_is_inconclusive():
    params = {"query": "up", "comparator": "==", "threshold": 1}

    result = hypothesis_test.run(context(params, FakePrometheus()))

    assert result.verdict == "inconclusive"
    assert result.summary.startswith("Inconclusive: no data for the query")


# --- Excerpts --------------------------------------------------------------------------------


def test_an_excerpt_is_bounded_and_drops_non_finite_points():
    points = [(float(t), float(t)) for t in range(100)] + [(100.0, NAN), (101.0, math.inf)]

    excerpt = series_excerpt(Series({"a": "b"}, points), max_points=5)

    assert excerpt["points_total"] == 102
    assert excerpt["points"] == [[0, 0.0], [25, 25.0], [50, 50.0], [74, 74.0], [99, 99.0]]
    assert (excerpt["last"], excerpt["min"], excerpt["max"], excerpt["avg"]) == (99.0, 0.0, 99.0, 49.5)


def test_findings_never_hold_nan():
    assert json_safe({"a": [NAN, 1.0, {"b": math.inf}], "c": datetime(2024, 1, 1, tzinfo=UTC)}) == {
        "a": [None, 1.0, {"b": None}],
        "c": "2024-01-01T00:00:00+00:00",
    }
