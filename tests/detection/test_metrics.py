"""/metrics reports detection from the database, whichever process ran the cycles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from detection.metrics import DetectionCollector, register_collector
from detection.models import AlertState
from tests.detection.factories import AlertFactory, DataSourceFactory, DetectionCycleFactory

pytestmark = pytest.mark.django_db

P = "reliability_detection"


def scrape(client: Client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_cycle_totals_and_last_duration_are_sums_over_the_cycles_table(client: Client) -> None:
    now = timezone.now()
    DetectionCycleFactory(started_at=now - timedelta(minutes=2), finished_at=now - timedelta(seconds=110),
                          rules_evaluated=100, rules_errored=3, alerts_fired=2, incidents_opened=1)
    DetectionCycleFactory(started_at=now - timedelta(minutes=1), finished_at=now - timedelta(seconds=58.5),
                          rules_evaluated=100, rules_errored=1, alerts_fired=0, incidents_opened=0)
    # Still running: its chunks' work counts, the cycle itself not yet.
    DetectionCycleFactory(started_at=now, finished_at=None, rules_evaluated=50)

    samples = scrape(client)

    assert value(samples, f"{P}_cycles_total") == 2
    assert value(samples, f"{P}_rules_evaluated_total") == 250
    assert value(samples, f"{P}_rule_errors_total") == 4
    assert value(samples, f"{P}_alerts_fired_total") == 2
    assert value(samples, f"{P}_incidents_opened_total") == 1
    assert value(samples, f"{P}_last_cycle_duration_seconds") == pytest.approx(1.5)
    assert value(samples, f"{P}_metrics_up") == 1


def test_active_alerts_by_state_and_source_health(client: Client) -> None:
    healthy = DataSourceFactory(name="prom")
    DataSourceFactory(name="loki", kind="loki", consecutive_failures=3)
    DataSourceFactory(name="off", enabled=False)
    AlertFactory(rule__source=healthy, state=AlertState.FIRING)
    AlertFactory(rule__source=healthy, state=AlertState.FIRING)
    AlertFactory(rule__source=healthy, state=AlertState.PENDING, fired_at=None)
    AlertFactory(rule__source=healthy, state=AlertState.RESOLVED)

    samples = scrape(client)

    assert value(samples, f"{P}_active_alerts", state="firing") == 2
    assert value(samples, f"{P}_active_alerts", state="pending") == 1
    assert value(samples, f"{P}_source_up", source="prom", kind="prometheus") == 1
    assert value(samples, f"{P}_source_up", source="loki", kind="loki") == 0
    assert value(samples, f"{P}_source_consecutive_failures", source="loki", kind="loki") == 3
    assert not any(dict(labels).get("source") == "off" for _, labels in samples)


def test_empty_tables_give_zeros_not_errors(client: Client) -> None:
    samples = scrape(client)

    assert value(samples, f"{P}_cycles_total") == 0
    assert value(samples, f"{P}_active_alerts", state="firing") == 0
    assert value(samples, f"{P}_latency_seconds_bucket", le="+Inf") == 0
    assert (f"{P}_last_cycle_duration_seconds", frozenset()) not in samples


def test_detection_latency_is_a_histogram_over_recently_fired_alerts(client: Client) -> None:
    now = timezone.now()
    for latency in (3.0, 8.0, 400.0):
        AlertFactory(fired_at=now - timedelta(minutes=5), detection_latency_seconds=latency)
    AlertFactory(fired_at=now - timedelta(days=2), detection_latency_seconds=1.0)  # out of the window
    AlertFactory(fired_at=now, detection_latency_seconds=None)  # never opened an incident

    samples = scrape(client)

    bucket = f"{P}_latency_seconds_bucket"
    assert value(samples, bucket, le="1.0") == 0
    assert value(samples, bucket, le="5.0") == 1
    assert value(samples, bucket, le="10.0") == 2
    assert value(samples, bucket, le="300.0") == 2
    assert value(samples, bucket, le="600.0") == 3
    assert value(samples, bucket, le="+Inf") == 3
    assert value(samples, f"{P}_latency_seconds_gsum") == pytest.approx(411.0)
    assert value(samples, f"{P}_latency_seconds_gcount") == 3


class _Rollback(Exception):
    pass


def test_a_database_error_leaves_metrics_answering_and_says_so(client: Client) -> None:
    with pytest.raises(_Rollback), transaction.atomic():
        # A real failure: the table the collector reads is gone (renamed back by the rollback).
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE detection_detectioncycle RENAME TO detection_detectioncycle_gone")
        samples = scrape(client)
        raise _Rollback

    assert value(samples, f"{P}_metrics_up") == 0
    assert (f"{P}_cycles_total", frozenset()) not in samples
    # The rest of /metrics (django_prometheus' own series) is still there.
    assert any(name.startswith("django_http") for name, _ in samples)


def test_registering_is_idempotent_and_describing_needs_no_database(django_assert_num_queries) -> None:
    assert register_collector() is register_collector()
    with django_assert_num_queries(0):
        names = {family.name for family in DetectionCollector().describe()}
    assert {f"{P}_cycles", f"{P}_active_alerts", f"{P}_source_up", f"{P}_latency_seconds"} <= names
