from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from detection import configuration, services
from detection.evaluation import Evaluation
from detection.evaluators import Breach
from detection.models import Alert, AlertState
from incidents.models import Incident, TimelineEvent, TimelineKind
from tests.detection.factories import DataSourceFactory, DetectionRuleFactory
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"service": "checkout", "pod": "c-1"}, "checkout"),
        ({"service": "checkout", "namespace": "shop"}, "checkout-shop"),
        ({"service": "payments"}, None),
        ({}, None),
    ],
)
def test_the_most_specific_service_whose_labels_all_match_wins(labels, expected):
    plain = ServiceFactory(slug="checkout", telemetry_labels={"service": "checkout"})
    specific = ServiceFactory(slug="checkout-shop", telemetry_labels={"service": "checkout", "namespace": "shop"})
    unlabelled = ServiceFactory(slug="bare", telemetry_labels={})

    found = services.service_for_labels(labels, [plain, specific, unlabelled])

    assert (found.slug if found else None) == expected


def fire(rule, labels):
    evaluation = Evaluation(breaches=[Breach(labels=labels, value=0.4)])
    return services.rule_evaluation_apply(rule=rule, evaluation=evaluation, now=NOW, services=[rule.service])


def test_two_series_of_one_service_open_one_incident():
    service = ServiceFactory(slug="checkout", telemetry_labels={"service": "checkout"})
    rule = DetectionRuleFactory(source=DataSourceFactory(), service=service, for_seconds=0, threshold_value=0.05)

    first = fire(rule, {"service": "checkout", "pod": "a"})
    second = fire(rule, {"service": "checkout", "pod": "b"})

    assert (first.incidents_opened, second.incidents_opened) == (1, 0)
    assert Incident.objects.count() == 1
    assert Alert.objects.filter(state=AlertState.FIRING).count() == 2
    assert TimelineEvent.objects.filter(kind=TimelineKind.ALERT_FIRED).count() == 1


def test_disabling_a_rule_clears_its_firing_alert_on_the_incident(django_capture_on_commit_callbacks):
    service = ServiceFactory(slug="checkout", telemetry_labels={"service": "checkout"})
    rule = DetectionRuleFactory(source=DataSourceFactory(), service=service, for_seconds=0, threshold_value=0.05)
    fire(rule, {"service": "checkout"})

    configuration.rule_update(rule=rule, user=UserFactory(is_staff=True), enabled=False)

    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED
    assert TimelineEvent.objects.filter(incident=alert.incident, kind=TimelineKind.ALERT_CLEARED).exists()


def test_alert_payloads_carry_no_infinity():
    service = ServiceFactory(slug="checkout", telemetry_labels={"service": "checkout"})
    rule = DetectionRuleFactory(source=DataSourceFactory(), service=service, for_seconds=0, threshold_value=1)
    services.rule_evaluation_apply(
        rule=rule, evaluation=Evaluation(breaches=[Breach(labels={"service": "checkout"}, value=math.inf)]),
        now=NOW, services=[service],
    )

    assert services.alert_payload(Alert.objects.get())["value"] is None
