"""The detection cycle against a real Prometheus scraping a real process whose errors we flip."""

from __future__ import annotations

import time

import pytest

from detection import tasks
from detection.models import Alert, AlertKind, AlertState, DataSource, DetectionCycle, DetectionRule
from incidents.models import Incident, Status, TimelineEvent, TimelineKind
from tests.factories import ServiceFactory
from tests.support.fixture_http import FixtureServer
from tests.support.prometheus import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# A short rate window: the test must see errors start and stop within seconds, not minutes.
ERROR_RATIO = (
    'sum by (service) (rate(http_requests_total{code=~"5.."}[4s]))'
    " / sum by (service) (rate(http_requests_total[4s]))"
)


@pytest.fixture
def checkout():
    return ServiceFactory(name="checkout", slug="checkout", telemetry_labels={"service": "checkout"})


def make_rule(source: DataSource, **overrides) -> DetectionRule:
    fields = dict(
        name="High Error Rate",
        rule_type="threshold",
        source=source,
        query=ERROR_RATIO,
        comparator=">",
        threshold_value=0.05,
        for_seconds=2,
        severity="critical",
        evaluation_interval_seconds=1,
    )
    fields.update(overrides)
    return DetectionRule.objects.create(**fields)


def cycle_until(predicate, timeout: float, message: str):
    def step():
        tasks.run_cycle.delay()
        return predicate()

    return wait_for(step, timeout=timeout, interval=0.5, message=message)


def test_errors_in_checkout_open_exactly_one_incident_and_the_alert_clears_when_they_stop(
    prometheus, exporter, checkout
):
    source = DataSource.objects.create(name="prom", kind="prometheus", url=prometheus.url, timeout_seconds=5)
    rule = make_rule(source)
    exporter.set(service="checkout", error_rate=0.0)

    tasks.run_cycle.delay()
    assert not Incident.objects.exists()

    exporter.set(service="checkout", error_rate=0.6)
    try:
        cycle_until(lambda: Incident.objects.exists(), timeout=30, message="an incident for checkout")
        # Keep the errors on for a few more cycles: repeated signals attach, never duplicate.
        for _ in range(4):
            tasks.run_cycle.delay()
            time.sleep(0.3)
    finally:
        exporter.set(service="checkout", error_rate=0.0)

    incident = Incident.objects.get()
    assert incident.service == checkout
    assert incident.status == Status.OPEN
    assert incident.severity == "critical"
    assert incident.title == "[critical] High Error Rate — checkout"
    assert incident.signal_count >= 2
    detected = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.DETECTED)
    assert detected.actor_name == "detector"
    assert detected.data["query"] == ERROR_RATIO
    assert detected.data["value"] > 0.05

    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.FIRING
    assert alert.incident == incident
    assert alert.labels == {"service": "checkout"}
    assert alert.detection_latency_seconds >= 0

    cycle_until(
        lambda: Alert.objects.get(pk=alert.pk).state == AlertState.RESOLVED, timeout=30, message="the alert to clear"
    )
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.ALERT_CLEARED).count() == 1
    incident.refresh_from_db()
    assert incident.status == Status.OPEN, "a cleared alert waits for a human unless the rule auto-resolves"
    assert Incident.objects.count() == 1
    last = DetectionCycle.objects.first()
    assert last.finished_at is not None and last.rules_evaluated == 1 and last.rules_errored == 0


def test_a_breach_shorter_than_for_never_opens_an_incident(prometheus, exporter, checkout):
    source = DataSource.objects.create(name="prom", kind="prometheus", url=prometheus.url, timeout_seconds=5)
    make_rule(source, for_seconds=3600)
    exporter.set(service="checkout", error_rate=0.6)
    try:
        cycle_until(
            lambda: Alert.objects.filter(state=AlertState.PENDING).exists(), timeout=30, message="a pending alert"
        )
    finally:
        exporter.set(service="checkout", error_rate=0.0)

    assert not Incident.objects.exists()


@pytest.mark.parametrize("behaviour", ["error", "garbage", "hang", "stopped"])
def test_a_source_that_fails_opens_no_incident_and_raises_one_source_down_alert(behaviour, checkout):
    server = FixtureServer(hang_seconds=5).start()
    url = server.url
    if behaviour == "stopped":
        server.stop()
    else:
        server.answer_all(behaviour, status=500)
    try:
        source = DataSource.objects.create(name="prom", kind="prometheus", url=url, timeout_seconds=1)
        rule = make_rule(source, for_seconds=0)
        tasks.run_cycle.delay()
        DetectionRule.objects.filter(pk=rule.pk).update(next_evaluation_at=None)
        tasks.run_cycle.delay()
    finally:
        if behaviour != "stopped":
            server.behave()
            server.stop()

    assert not Incident.objects.exists()
    rule.refresh_from_db()
    assert rule.last_error
    source.refresh_from_db()
    assert source.consecutive_failures == 2
    assert not source.healthy
    down = Alert.objects.get(kind=AlertKind.SOURCE_DOWN)
    assert down.state == AlertState.FIRING
    assert down.source == source
    assert Alert.objects.count() == 1
    assert DetectionCycle.objects.first().rules_errored == 1


def test_a_rejected_query_errors_the_rule_but_not_the_source(prometheus, checkout):
    source = DataSource.objects.create(name="prom", kind="prometheus", url=prometheus.url, timeout_seconds=5)
    rule = make_rule(source, query="sum(rate(http_requests_total[4s]) by")

    tasks.run_cycle.delay()

    rule.refresh_from_db()
    source.refresh_from_db()
    assert "parse error" in rule.last_error
    assert source.healthy
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()


def test_a_source_that_recovers_resolves_its_source_down_alert(prometheus, checkout):
    source = DataSource.objects.create(name="prom", kind="prometheus", url="http://127.0.0.1:1", timeout_seconds=1)
    rule = make_rule(source)
    tasks.run_cycle.delay()
    assert Alert.objects.get(kind=AlertKind.SOURCE_DOWN).state == AlertState.FIRING

    DataSource.objects.filter(pk=source.pk).update(url=prometheus.url)
    DetectionRule.objects.filter(pk=rule.pk).update(next_evaluation_at=None)
    tasks.run_cycle.delay()

    assert Alert.objects.get(kind=AlertKind.SOURCE_DOWN).state == AlertState.RESOLVED
    source.refresh_from_db()
    assert source.healthy and source.last_ok_at is not None
