"""Errors in payments that precede checkout's errors rank payments above checkout.

Real Prometheus; the exporter's payments errors are switched on first, checkout's seconds later.
Only a Prometheus source is configured: the other collectors skip and say why.
"""

from __future__ import annotations

import pytest

from correlation import scoring
from correlation.models import Correlation, RunStatus
from correlation.services import incident_correlate
from tests.correlation.conftest import make_shop, prometheus_source
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(team, world):
    """Checkout's and payments' series are the cascade exporter's: payments failed first."""
    return make_shop(team, world.cascade)


def test_a_dependency_that_failed_first_ranks_above_its_caller(shop, world):
    prometheus_source(world.prometheus.url)
    incident = IncidentFactory(service=shop["checkout"], title="checkout errors")

    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.OK
    assert run.collectors["kubernetes"]["status"] == "skipped"
    assert run.collectors["kubernetes"]["error"] == "no Kubernetes source is configured"
    assert run.collectors["logs"]["status"] == "skipped"
    assert run.collectors["traces"]["status"] == "skipped"
    ranked = list(Correlation.objects.filter(incident=incident, active=True))
    keys = [c.key for c in ranked]
    assert keys[:2] == ["metrics:payments:error_ratio", "metrics:checkout:error_ratio"], keys
    payments, checkout = ranked[:2]
    assert payments.onset_at < checkout.onset_at
    assert payments.is_root_cause_candidate and not checkout.is_root_cause_candidate
    assert payments.factors["dependency"]["value"] == 1.0
    assert "went bad before its caller checkout" in payments.factors["dependency"]["why"]
    assert "its dependency payments went bad" in checkout.factors["dependency"]["why"]
    assert payments.factors["temporal"]["value"] > checkout.factors["temporal"]["value"] == 0.5
    assert run.symptom_start == checkout.onset_at

    incident.refresh_from_db()
    assert [s["service"] for s in incident.impact["blast_radius"]] == ["checkout", "frontend"]


def test_the_benchmark_entry_point_ranks_the_same_services_from_the_same_findings(shop, world):
    prometheus_source(world.prometheus.url)
    incident = IncidentFactory(service=shop["checkout"])
    incident_correlate(incident_id=incident.pk)
    findings = [
        scoring.Finding(service=c.service.slug, kind=c.kind, signal=c.signal, key=c.key,
                        onset=c.onset_at.timestamp(), magnitude=c.magnitude, specificity=c.specificity)
        for c in Correlation.objects.filter(incident=incident, active=True)
    ]
    graph = {"frontend": ["checkout"], "checkout": ["payments"], "payments": []}
    symptom = scoring.symptom_onset(findings, "checkout", fallback=incident.detected_at.timestamp())

    causes = scoring.rank_services(findings, graph, symptom_service="checkout", symptom_start=symptom)

    assert [c.service for c in causes][:2] == ["payments", "checkout"]
