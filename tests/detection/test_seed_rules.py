"""``manage.py seed_rules``: the standard rules, idempotent by name, on the sources there are."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from detection.models import DataSource, DetectionRule, SourceKind
from detection.validation import rule_validate
from tests.detection.factories import DataSourceFactory, DetectionRuleFactory
from tests.support.prometheus import PrometheusProcess

pytestmark = pytest.mark.django_db

PROMETHEUS_RULES = {"High Error Rate", "High Latency", "Pod Crash Loop (kube-state-metrics)"}


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_rules", *args, stdout=out)
    return out.getvalue()


def test_with_prometheus_url_it_creates_the_source_and_the_prometheus_rules(settings) -> None:
    settings.PROMETHEUS_URL = "http://prometheus.example:9090/"

    output = seed()

    source = DataSource.objects.get()
    assert (source.name, source.kind, source.url) == ("Prometheus", "prometheus", "http://prometheus.example:9090")
    assert set(DetectionRule.objects.values_list("name", flat=True)) == PROMETHEUS_RULES
    error_rate = DetectionRule.objects.get(name="High Error Rate")
    assert (error_rate.comparator, error_rate.threshold_value, error_rate.for_seconds) == (">", 0.05, 120)
    assert 'code=~"5.."' in error_rate.query and "/ sum by (service)" in error_rate.query
    assert error_rate.annotations["summary"] and error_rate.annotations["runbook_url"].startswith("https://")
    latency = DetectionRule.objects.get(name="High Latency")
    assert latency.query.startswith("histogram_quantile(0.95,") and latency.threshold_value == 1.0
    assert "Skipped rule Pod Crash Loop: needs a Kubernetes source" in output


def test_running_it_twice_changes_nothing_and_keeps_tuned_rules(settings) -> None:
    settings.PROMETHEUS_URL = "http://prometheus.example:9090"
    seed()
    DetectionRule.objects.filter(name="High Error Rate").update(threshold_value=0.1)
    before = list(DetectionRule.objects.order_by("id").values())

    output = seed()

    assert list(DetectionRule.objects.order_by("id").values()) == before
    assert DataSource.objects.count() == 1
    assert "Kept rule High Error Rate (exists already)." in output


def test_an_existing_source_with_the_same_url_is_reused(settings) -> None:
    existing = DataSourceFactory(name="prod-prom", url="http://prom.internal:9090")
    settings.PROMETHEUS_URL = "http://prom.internal:9090/"

    seed()

    assert DataSource.objects.get() == existing
    assert set(DetectionRule.objects.values_list("source__name", flat=True)) == {"prod-prom"}


def test_without_a_prometheus_it_skips_those_rules_and_says_why(settings) -> None:
    settings.PROMETHEUS_URL = None

    output = seed()

    assert not DetectionRule.objects.exists() and not DataSource.objects.exists()
    assert "Skipped rule High Error Rate: needs a Prometheus source: set PROMETHEUS_URL" in output


def test_the_crash_loop_pattern_rule_goes_on_an_existing_kubernetes_source(settings) -> None:
    settings.PROMETHEUS_URL = None
    k8s = DataSourceFactory(name="cluster", kind=SourceKind.KUBERNETES, url="")

    seed()

    rule = DetectionRule.objects.get()
    assert (rule.name, rule.rule_type, rule.pattern) == ("Pod Crash Loop", "pattern", "CrashLoopBackOff")
    assert rule.source == k8s


def test_source_option_picks_the_source_by_name(settings) -> None:
    settings.PROMETHEUS_URL = "http://ignored:9090"
    chosen = DataSourceFactory(name="chosen")

    seed("--source", "chosen")

    assert set(DetectionRule.objects.values_list("source", flat=True)) == {chosen.pk}
    assert DataSource.objects.count() == 1
    with pytest.raises(CommandError, match="No data source named 'missing'"):
        seed("--source", "missing")


def test_a_rule_with_a_seed_name_is_never_duplicated(settings) -> None:
    settings.PROMETHEUS_URL = "http://prometheus.example:9090"
    DetectionRuleFactory(name="High Latency")

    seed()

    assert DetectionRule.objects.filter(name="High Latency").count() == 1


def test_seeded_rules_pass_validation_against_a_real_prometheus(settings, prometheus: PrometheusProcess) -> None:
    settings.PROMETHEUS_URL = prometheus.url

    seed()

    rules = list(DetectionRule.objects.select_related("source"))
    assert {r.name for r in rules} == PROMETHEUS_RULES
    for rule in rules:
        rule_validate(rule_type=rule.rule_type, source=rule.source, query=rule.query, comparator=rule.comparator,
                      threshold_value=rule.threshold_value, pattern=rule.pattern, parameters=rule.parameters,
                      for_seconds=rule.for_seconds, keep_firing_for_seconds=rule.keep_firing_for_seconds,
                      labels=rule.labels, annotations=rule.annotations)
