"""detection.validation against the sources themselves: a real Prometheus, and the fixture server
answering as Loki and as a Kubernetes API server."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from detection.models import DataSource, DetectionRule, SourceKind
from detection.validation import as_validation_error, rule_validate, source_validate
from reliability_studio.lib.errors import DomainError
from tests.support.fixture_http import FIXTURES, FixtureServer, fixture
from tests.support.prometheus import PrometheusProcess, free_port

GOOD_PROMQL = 'sum by (service) (rate(http_requests_total{code="500"}[1m]))'


def prometheus_source(url: str, **kwargs) -> DataSource:
    return DataSource(name="prom", kind=SourceKind.PROMETHEUS, url=url, timeout_seconds=5, **kwargs)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def threshold(source: DataSource, **overrides) -> dict:
    values = {"rule_type": "threshold", "source": source, "query": GOOD_PROMQL, "comparator": ">",
              "threshold_value": 1.0}
    values.update(overrides)
    return values


def raises_on(field: str, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        rule_validate(**kwargs)
    assert info.value.field == field, info.value.message
    return info.value


@pytest.fixture
def prom(prometheus: PrometheusProcess) -> DataSource:
    return prometheus_source(prometheus.url)


# -- PromQL, checked by Prometheus itself -----------------------------------------------------------


def test_a_valid_promql_threshold_rule_passes_and_comes_back_normalised(prom: DataSource) -> None:
    cleaned = rule_validate(**threshold(prom, comparator=" gte ", query=f"  {GOOD_PROMQL}\n"))

    assert cleaned["comparator"] == ">="
    assert cleaned["query"] == GOOD_PROMQL


def test_bad_promql_is_an_error_on_query_in_prometheus_own_words(prom: DataSource) -> None:
    error = raises_on("query", **threshold(prom, query="sum(rate(http_requests_total[5m])"))

    assert error.message.startswith("Prometheus rejected the query:")
    # Prometheus' parser says where and what; the user must see that, not a paraphrase.
    assert "parse error" in error.message
    assert "unclosed left parenthesis" in error.message or "expected" in error.message


def test_a_range_vector_in_a_threshold_rule_is_an_error_on_query(prom: DataSource) -> None:
    # Valid PromQL, which client.validate() would accept; the rule could never compare it.
    error = raises_on("query", **threshold(prom, query="http_requests_total[1m]"))

    assert "range vector" in error.message


def test_an_anomaly_rule_is_asked_as_a_range_query(prom: DataSource) -> None:
    rule_validate(rule_type="anomaly", source=prom, query=GOOD_PROMQL)

    error = raises_on("query", rule_type="anomaly", source=prom, query="http_requests_total[1m]")
    assert error.message.startswith("Prometheus rejected the query: ")
    assert "range vector" in error.message


def test_a_prometheus_that_does_not_answer_is_an_error_on_source() -> None:
    source = prometheus_source(dead_url())

    error = raises_on("source", **threshold(source))

    assert "did not answer" in error.message
    assert "prom" in error.message
    assert "cannot reach" in error.message  # the cause, from the client


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None, "many"])
def test_a_threshold_rule_needs_a_finite_threshold(prom: DataSource, value) -> None:
    raises_on("threshold_value", **threshold(prom, threshold_value=value))


@pytest.mark.parametrize("value", [0.0, -1.5, 0.05, 1e9])
def test_finite_thresholds_including_zero_and_negatives_pass(prom: DataSource, value: float) -> None:
    rule_validate(**threshold(prom, threshold_value=value))


@pytest.mark.parametrize("comparator", ["=>", "<>", "", "≥", "greater"])
def test_unknown_comparators_are_refused(prom: DataSource, comparator: str) -> None:
    raises_on("comparator", **threshold(prom, comparator=comparator))


@pytest.mark.parametrize("comparator", [">", ">=", "<", "<=", "==", "!="])
def test_the_six_comparators_are_accepted(prom: DataSource, comparator: str) -> None:
    assert rule_validate(**threshold(prom, comparator=comparator))["comparator"] == comparator


def test_local_problems_are_reported_without_asking_the_source() -> None:
    # A dead source would say "did not answer"; the empty query must be reported first.
    raises_on("query", **threshold(prometheus_source(dead_url()), query="  "))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rule_type": "magic"}, "rule_type"),
        ({"source": None}, "source"),
        ({"for_seconds": -1}, "for_seconds"),
        ({"keep_firing_for_seconds": 1.5}, "keep_firing_for_seconds"),
        ({"evaluation_interval_seconds": 0}, "evaluation_interval_seconds"),
        ({"labels": {"team": 3}}, "labels"),
        ({"annotations": ["summary"]}, "annotations"),
        ({"parameters": "x"}, "parameters"),
        ({"pattern": "CrashLoopBackOff"}, "pattern"),
    ],
)
def test_settings_errors_name_their_field(overrides: dict, field: str) -> None:
    raises_on(field, **{**threshold(prometheus_source(dead_url())), **overrides})


# -- Pattern and anomaly rules -------------------------------------------------------------------------


def test_a_pattern_rule_must_name_a_known_pattern() -> None:
    k8s = DataSource(name="k8s", kind=SourceKind.KUBERNETES)

    error = raises_on("pattern", rule_type="pattern", source=k8s, pattern="CrashLoop")

    assert "CrashLoopBackOff" in error.message  # lists the known ones


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [("CrashLoopBackOff", SourceKind.PROMETHEUS), ("OOMKilled", SourceKind.LOKI), ("LogLineMatch", "kubernetes"),
     ("LogCountOverThreshold", SourceKind.PROMETHEUS)],
)
def test_a_pattern_needs_a_source_kind_that_fits_it(pattern: str, kind: str) -> None:
    source = DataSource(name="s", kind=kind, url="http://127.0.0.1:9")

    error = raises_on("source", rule_type="pattern", source=source, pattern=pattern, query='{app="x"}')

    assert "needs a" in error.message


def test_threshold_and_anomaly_rules_refuse_a_kubernetes_source() -> None:
    k8s = DataSource(name="k8s", kind=SourceKind.KUBERNETES)

    raises_on("source", **threshold(k8s))
    raises_on("source", rule_type="anomaly", source=k8s, query="up")


@pytest.mark.parametrize(
    "parameters",
    [
        {"anomaly": {"z_threshold": 0}},
        {"anomaly": {"window": 10, "min_points": 30}},
        {"anomaly": {"direction": "sideways"}},
        {"anomaly": {"no_such_knob": 1}},
        {"anomaly": "sensitive"},
        {"window_seconds": -60},
        {"window_seconds": 600, "step_seconds": 60},  # 11 points: never enough to score
        {"window_seconds": 86400 * 2, "step_seconds": 1},  # more points than a source returns
    ],
)
def test_anomaly_parameters_must_build_an_anomaly_config(prom: DataSource, parameters: dict) -> None:
    raises_on("parameters", rule_type="anomaly", source=prom, query=GOOD_PROMQL, parameters=parameters)


def test_good_anomaly_parameters_pass(prom: DataSource) -> None:
    rule_validate(rule_type="anomaly", source=prom, query=GOOD_PROMQL,
                  parameters={"window_seconds": 3600, "step_seconds": 30, "anomaly": {"z_threshold": 4.0}})


# -- LogQL, checked by (the fixture server answering as) Loki -----------------------------------------


@pytest.fixture
def loki(fixture_server: FixtureServer) -> DataSource:
    fixture_server.add("GET", "/loki/api/v1/query", fixture("loki_query_vector.json"))
    fixture_server.add("GET", "/loki/api/v1/query_range", fixture("loki_query_range_streams.json"))
    return DataSource(name="loki", kind=SourceKind.LOKI, url=fixture_server.url, timeout_seconds=2)


def test_bad_logql_is_an_error_on_query_in_loki_own_words(loki: DataSource, fixture_server: FixtureServer) -> None:
    bad = 'sum(count_over_time({app=checkout}[5m]))'
    fixture_server.add("GET", "/loki/api/v1/query", (FIXTURES / "loki_parse_error.txt").read_text(),
                       status=400, params={"query": bad})

    error = raises_on("query", rule_type="threshold", source=loki, query=bad, threshold_value=3)

    assert error.message == (
        "Loki rejected the query: parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting STRING"
    )


def test_good_logql_passes_after_loki_accepted_it(loki: DataSource, fixture_server: FixtureServer) -> None:
    query = 'sum by (app) (count_over_time({app="checkout"} |= "error" [5m]))'

    rule_validate(rule_type="pattern", pattern="LogCountOverThreshold", source=loki, query=query, threshold_value=3)

    assert [r.params["query"] for r in fixture_server.requests_to("/loki/api/v1/query")] == [query]


def test_a_log_line_rule_asks_loki_for_one_line(loki: DataSource, fixture_server: FixtureServer) -> None:
    query = '{app="checkout"} |= "panic"'

    rule_validate(rule_type="pattern", pattern="LogLineMatch", source=loki, query=query)

    (request,) = fixture_server.requests_to("/loki/api/v1/query_range")
    assert (request.params["query"], request.params["limit"]) == (query, "1")


def test_a_log_query_where_a_metric_query_is_needed_is_refused_before_asking_loki(
    loki: DataSource, fixture_server: FixtureServer
) -> None:
    error = raises_on("query", rule_type="threshold", source=loki, query='{app="x"} |= "error"', threshold_value=1)

    assert "log query" in error.message
    assert fixture_server.requests == []


def test_log_line_rules_need_a_log_query_and_a_compilable_regex(loki: DataSource) -> None:
    raises_on("query", rule_type="pattern", pattern="LogLineMatch", source=loki, query="count_over_time({a=\"b\"}[1m])")
    raises_on("parameters", rule_type="pattern", pattern="LogLineMatch", source=loki, query='{app="x"}',
              parameters={"regex": "(unclosed"})
    raises_on("threshold_value", rule_type="pattern", pattern="LogLineMatch", source=loki, query='{app="x"}',
              threshold_value=0.5)


def test_a_loki_that_answers_500_is_an_error_on_source(loki: DataSource, fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("error", status=503)

    error = raises_on("source", rule_type="threshold", source=loki, query="sum(rate({a=\"b\"}[1m]))",
                      threshold_value=1)

    assert "did not answer" in error.message and "503" in error.message


# -- Kubernetes label selectors --------------------------------------------------------------------


def test_a_bad_label_selector_is_an_error_on_query_in_the_api_server_words(
    fixture_server: FixtureServer, kubeconfig: Path
) -> None:
    fixture_server.add("GET", "/api/v1/namespaces/shop/pods", fixture("k8s_status_bad_selector.json"), status=400)
    k8s = DataSource(name="k8s", kind=SourceKind.KUBERNETES, kubeconfig=str(kubeconfig), timeout_seconds=2)

    error = raises_on("query", rule_type="pattern", pattern="CrashLoopBackOff", source=k8s, query="app=check out",
                      parameters={"namespace": "shop"})

    assert error.message.startswith("Kubernetes rejected the label selector: unable to parse requirement")


def test_a_good_label_selector_passes(fixture_server: FixtureServer, kubeconfig: Path) -> None:
    fixture_server.add("GET", "/api/v1/pods", fixture("k8s_pod_list.json"))
    k8s = DataSource(name="k8s", kind=SourceKind.KUBERNETES, kubeconfig=str(kubeconfig), timeout_seconds=2)

    rule_validate(rule_type="pattern", pattern="CrashLoopBackOff", source=k8s, query="app=checkout")

    assert fixture_server.requests_to("/api/v1/pods")[0].params["labelSelector"] == "app=checkout"


# -- Updates only ask the source when the query changes ------------------------------------------


@pytest.mark.django_db
def test_an_update_that_keeps_the_query_does_not_ask_a_dead_source() -> None:
    from tests.detection.factories import DetectionRuleFactory

    rule: DetectionRule = DetectionRuleFactory(source__url=dead_url())
    values = threshold(rule.source, query=rule.query, threshold_value=99.0, for_seconds=60)

    rule_validate(**values, instance=rule)  # no error: nothing the source must check changed

    with pytest.raises(DomainError) as info:
        rule_validate(**{**values, "query": rule.query + " > 0"}, instance=rule)
    assert info.value.field == "source"


# -- Data sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [SourceKind.PROMETHEUS, SourceKind.LOKI])
def test_prometheus_and_loki_sources_need_a_url(kind: str) -> None:
    with pytest.raises(DomainError) as info:
        source_validate(kind=kind, url="")
    assert info.value.field == "url"


def test_a_reachable_prometheus_source_passes(prometheus: PrometheusProcess) -> None:
    source_validate(kind="prometheus", url=prometheus.url, timeout_seconds=5)


def test_an_unreachable_source_is_an_error_on_url_quoting_the_cause() -> None:
    url = dead_url()
    with pytest.raises(DomainError) as info:
        source_validate(kind="prometheus", url=url, timeout_seconds=2)

    assert info.value.field == "url"
    assert info.value.message.startswith(f"Prometheus at {url} did not answer: cannot reach {url}/-/ready")


def test_a_disabled_source_is_saved_without_asking_it() -> None:
    source_validate(kind="prometheus", url=dead_url(), enabled=False)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "graphite", "url": "http://x"}, "kind"),
        ({"kind": "prometheus", "url": "ftp://x"}, "url"),
        ({"kind": "prometheus", "url": "http://x", "timeout_seconds": 0}, "timeout_seconds"),
        ({"kind": "prometheus", "url": "http://x", "timeout_seconds": math.nan}, "timeout_seconds"),
        ({"kind": "prometheus", "url": "http://x", "password": "p"}, "username"),
        ({"kind": "loki", "url": "http://x", "kubeconfig": "/etc/kube"}, "kubeconfig"),
    ],
)
def test_source_settings_errors_name_their_field(values: dict, field: str) -> None:
    with pytest.raises(DomainError) as info:
        source_validate(**values)
    assert info.value.field == field


def test_a_kubernetes_source_is_checked_through_its_kubeconfig(fixture_server: FixtureServer, kubeconfig: Path) -> None:
    fixture_server.add("GET", "/version/", fixture("k8s_version.json"))

    source_validate(kind="kubernetes", kubeconfig=str(kubeconfig), timeout_seconds=2)

    fixture_server.require_token("another-token")
    with pytest.raises(DomainError) as info:
        source_validate(kind="kubernetes", kubeconfig=str(kubeconfig), timeout_seconds=2)
    assert "refused the credentials" in info.value.message
    assert "fixture-token" not in info.value.message  # the kubeconfig's token (tests/detection/conftest.py)


def test_a_kubeconfig_that_cannot_be_loaded_is_an_error_on_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as info:
        source_validate(kind="kubernetes", kubeconfig=str(tmp_path / "missing"))
    assert info.value.field == "kubeconfig"


def test_domain_errors_become_form_errors_on_the_same_field() -> None:
    error = as_validation_error(DomainError("bad", field="query"))

    assert error.message_dict == {"query": ["bad"]}
