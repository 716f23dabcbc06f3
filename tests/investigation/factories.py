"""factory-boy factories for the investigation models (and the correlations they cite)."""

from __future__ import annotations

import factory

from correlation.models import Correlation
from investigation.models import Hypothesis, InvestigationStep, StepAction
from tests.factories import IncidentFactory


class CorrelationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Correlation

    incident = factory.SubFactory(IncidentFactory)
    kind = "metrics"
    key = factory.Sequence(lambda n: f"metrics:checkout:{n}")
    source = "prometheus"
    signal = "error_ratio"
    title = factory.Sequence(lambda n: f"Finding {n}")
    confidence = 0.7
    rank = factory.Sequence(lambda n: n + 1)


class HypothesisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hypothesis

    incident = factory.SubFactory(IncidentFactory)
    title = factory.Sequence(lambda n: f"Hypothesis {n}")
    confidence = 0.5


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvestigationStep

    incident = factory.SubFactory(IncidentFactory)
    title = factory.Sequence(lambda n: f"Step {n}")
    action = StepAction.MANUAL
    parameters = factory.LazyFunction(dict)
