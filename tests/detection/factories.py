"""factory-boy factories for the detection models."""

from __future__ import annotations

import factory
from django.utils import timezone

from detection.models import Alert, AlertState, DataSource, DetectionCycle, DetectionRule, RuleType, SourceKind


class DataSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataSource

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = SourceKind.PROMETHEUS
    # Nothing listens on port 9 (discard): a source that cannot be reached by accident.
    url = "http://127.0.0.1:9"
    timeout_seconds = 2.0


class DetectionRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DetectionRule

    name = factory.Sequence(lambda n: f"rule-{n}")
    rule_type = RuleType.THRESHOLD
    source = factory.SubFactory(DataSourceFactory)
    query = 'sum by (service) (rate(http_requests_total{code="500"}[1m]))'
    comparator = ">"
    threshold_value = 1.0


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    rule = factory.SubFactory(DetectionRuleFactory)
    source = factory.LazyAttribute(lambda o: o.rule.source if o.rule else DataSourceFactory())
    service = factory.LazyAttribute(lambda o: o.rule.service if o.rule else None)
    fingerprint = factory.Sequence(lambda n: f"alert-fp-{n}")
    labels = factory.LazyAttribute(lambda o: {"service": o.service.slug} if o.service else {})
    state = AlertState.FIRING
    severity = factory.LazyAttribute(lambda o: o.rule.severity if o.rule else "high")
    value = 0.5
    active_since = factory.LazyFunction(timezone.now)
    fired_at = factory.LazyAttribute(lambda o: o.active_since if o.state == AlertState.FIRING else None)


class DetectionCycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DetectionCycle

    started_at = factory.LazyFunction(timezone.now)
    chunks_total = 1
    chunks_done = 1
