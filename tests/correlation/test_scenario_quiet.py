"""An incident with no evidence anywhere gets an empty result, not an invented one."""

from __future__ import annotations

import pytest

from correlation.models import Correlation, RunStatus
from correlation.services import incident_correlate
from incidents.models import TimelineEvent, TimelineKind
from tests.correlation import bodies
from tests.correlation.conftest import kubernetes_source, loki_source, make_shop, prometheus_source
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(team, world):
    return make_shop(team, world.quiet)


@pytest.fixture
def sources(world, shop, k8s_server, loki_server) -> None:
    server, kubeconfig = k8s_server
    # Healthy pods of a revision rolled out two days ago; no Warning events.
    server.add("GET", bodies.PODS, bodies.pod_list(
        *(bodies.pod(f"checkout-5b6c7d8e9-{n}", app="checkout", template_hash="5b6c7d8e9") for n in "xyz")
    ), params={"labelSelector": "app=checkout"})
    server.add("GET", bodies.PODS, bodies.pod_list(), params={"labelSelector": "app=payments"})
    server.add("GET", bodies.DEPLOYMENTS, bodies.deployment_list(
        "checkout", 7, "registry.example.com/shop/checkout:2.3.0", replicas=3, ready=3))
    server.add("GET", bodies.REPLICA_SETS, bodies.replica_set_list(
        bodies.replica_set("checkout", "5b6c7d8e9", 7, bodies.ago(2 * 86400),
                           "registry.example.com/shop/checkout:2.3.0", replicas=3, ready=3)))
    server.add("GET", bodies.EVENTS, bodies.event_list())
    for service in shop.values():
        loki_server.add("GET", bodies.LOKI_RANGE, bodies.loki_streams({"service": service.slug}, []),
                        params={"query": bodies.loki_query(service)})
    prometheus_source(world.prometheus.url)
    loki_source(loki_server.url)
    kubernetes_source(kubeconfig)


def test_no_evidence_anywhere_gives_an_empty_ranking(shop, sources, sent, client, member):
    incident = IncidentFactory(service=shop["checkout"])

    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.OK, run.collectors
    assert {name: c["status"] for name, c in run.collectors.items()} == {
        "kubernetes": "ok", "metrics": "ok", "logs": "ok", "traces": "skipped",
    }
    assert not Correlation.objects.filter(incident=incident).exists()
    assert not TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.CORRELATION_FOUND).exists()
    assert not [m for m in sent if m["type"] == "correlation_found"]
    incident.refresh_from_db()
    assert incident.impact["suggested_severity"] == "low"
    assert incident.impact["failing_share"] == 0.0
    assert incident.impact["pods_affected"] == []

    client.force_login(member)
    body = client.get(f"/api/incidents/{incident.pk}/correlations/").json()
    assert body["results"] == [] and body["count"] == 0
    assert body["run"]["findings"] == 0
