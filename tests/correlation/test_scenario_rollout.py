"""A rollout of checkout precedes its CrashLoopBackOff and a rise of its error ratio.

Real Prometheus scraping the exporter whose checkout errors we switch on; Kubernetes and Loki
answer from fixture servers with bodies in their documented shapes.
"""

from __future__ import annotations

import json

import pytest

from correlation.models import Correlation, CorrelationRun, RunStatus
from correlation.services import incident_correlate
from incidents.models import TimelineEvent, TimelineKind
from tests.correlation import bodies
from tests.correlation.conftest import kubernetes_source, loki_source, make_shop, prometheus_source
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=True)

NEW_HASH, OLD_HASH = "7d9f8b6c5", "6c8e7a9b4"


def serve_cluster(server) -> None:
    crashed_at = bodies.ago(180)
    server.add("GET", bodies.PODS, bodies.pod_list(
        bodies.pod(f"checkout-{NEW_HASH}-aaaaa", app="checkout", template_hash=NEW_HASH, ready=False,
                   waiting="CrashLoopBackOff", restarts=5, last_terminated="Error", last_terminated_at=crashed_at),
        bodies.pod(f"checkout-{NEW_HASH}-bbbbb", app="checkout", template_hash=NEW_HASH, ready=False,
                   waiting="CrashLoopBackOff", restarts=4, last_terminated="Error",
                   last_terminated_at=bodies.ago(170)),
        bodies.pod(f"checkout-{NEW_HASH}-ccccc", app="checkout", template_hash=NEW_HASH),
    ), params={"labelSelector": "app=checkout"})
    server.add("GET", bodies.PODS, bodies.pod_list(), params={"labelSelector": "app=payments"})
    server.add("GET", bodies.DEPLOYMENTS, bodies.deployment_list(
        "checkout", 12, "registry.example.com/shop/checkout:2.4.1", replicas=3, ready=1))
    server.add("GET", bodies.REPLICA_SETS, bodies.replica_set_list(
        bodies.replica_set("checkout", NEW_HASH, 12, bodies.ago(600), "registry.example.com/shop/checkout:2.4.1",
                           replicas=3, ready=1),
        bodies.replica_set("checkout", OLD_HASH, 11, bodies.ago(30 * 86400),
                           "registry.example.com/shop/checkout:2.4.0", replicas=0, ready=0),
    ))
    server.add("GET", bodies.EVENTS, bodies.event_list(
        bodies.event("BackOff", f"checkout-{NEW_HASH}-aaaaa", "Back-off restarting failed container checkout",
                     last=bodies.ago(60), count=12),
        bodies.event("BackOff", f"checkout-{NEW_HASH}-bbbbb", "Back-off restarting failed container checkout",
                     last=bodies.ago(50), count=9),
    ))


def serve_logs(server, shop) -> None:
    checkout_lines = [
        (bodies.ago(90 - 8 * i), "panic: runtime error: invalid memory address or nil pointer dereference")
        for i in range(8)
    ]
    checkout_lines += [(bodies.ago(400 + 20 * i), f'level=error msg="payment gateway timeout" order={1200 + i}')
                       for i in range(3)]
    checkout_lines += [(bodies.ago(200 + 20 * i), f'level=error msg="payment gateway timeout" order={1300 + i}')
                       for i in range(3)]
    server.add("GET", bodies.LOKI_RANGE, bodies.loki_streams({"service": "checkout", "level": "error"}, checkout_lines),
               params={"query": bodies.loki_query(shop["checkout"])})
    server.add("GET", bodies.LOKI_RANGE, bodies.loki_streams({"service": "payments"}, []),
               params={"query": bodies.loki_query(shop["payments"])})


@pytest.fixture
def shop(team, world):
    """Checkout's series are the rollout exporter's: its errors began seconds ago."""
    return make_shop(team, world.rollout)


@pytest.fixture
def sources(world, shop, k8s_server, loki_server) -> None:
    server, kubeconfig = k8s_server
    serve_cluster(server)
    serve_logs(loki_server, shop)
    prometheus_source(world.prometheus.url)
    loki_source(loki_server.url)
    kubernetes_source(kubeconfig)


def test_the_rollout_and_the_crash_rank_first_then_the_errors_they_cause(shop, sources, sent, client, member):
    incident = IncidentFactory(service=shop["checkout"], title="checkout error ratio above 5%")

    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.OK, run.collectors
    assert run.collectors["traces"]["status"] == "skipped"
    assert "no traces source" in run.collectors["traces"]["error"]
    ranked = list(Correlation.objects.filter(incident=incident, active=True))
    keys = [c.key for c in ranked]
    assert {keys[0], keys[1]} == {"change:shop/checkout:12", "infrastructure:checkout:crash_loop"}, keys
    assert keys[0] == "change:shop/checkout:12", "the rollout came first and explains the crash"
    errors = next(c for c in ranked if c.key == "metrics:checkout:error_ratio")
    assert errors.rank > 2
    assert all(c.confidence > errors.confidence for c in ranked[:2])
    assert [c.rank for c in ranked] == list(range(1, len(ranked) + 1))
    assert ranked[0].is_root_cause_candidate and ranked[1].is_root_cause_candidate
    assert not errors.is_root_cause_candidate, "the symptom is not its own cause"
    assert set(ranked[0].factors) == {"temporal", "magnitude", "specificity", "agreement", "dependency"}
    assert ranked[0].factors["temporal"]["value"] > ranked[1].factors["temporal"]["value"]
    assert ranked[0].evidence["previous"]["images"] == ["registry.example.com/shop/checkout:2.4.0"]
    crash = ranked[1]
    assert crash.evidence["from_new_replica_sets"] == [f"checkout-{NEW_HASH}"]
    assert [e["reason"] for e in crash.evidence["events"]] == ["BackOff", "BackOff"]
    panic = next(c for c in ranked if c.kind == "logs")
    assert panic.signal == "new_log_template" and "panic" in panic.evidence["template"]
    assert len(panic.evidence["examples"]) == 3
    assert not any(c.service and c.service.slug == "payments" for c in ranked), [(c.key, c.title) for c in ranked]

    # Every new correlation is on the timeline and announced, best first.
    events = list(TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.CORRELATION_FOUND))
    assert len(events) == len(ranked)
    assert events[0].message.startswith("Probable cause #1: Rollout of checkout to revision 12")
    found = [m for m in sent if m["type"] == "correlation_found"]
    assert [m["data"]["id"] for m in found] == [c.pk for c in ranked]
    assert found[0]["data"]["confidence"] == ranked[0].confidence
    assert found[0]["data"]["service"]["slug"] == "checkout"

    # Impact: half the requests fail, two of three pods are down, frontend stands behind checkout.
    incident.refresh_from_db()
    impact = incident.impact
    assert impact["suggested_severity"] == "critical"
    assert [(s["service"], s["depth"]) for s in impact["blast_radius"]] == [("checkout", 0), ("frontend", 1)]
    assert impact["pods_affected"] == [f"checkout-{NEW_HASH}-aaaaa", f"checkout-{NEW_HASH}-bbbbb"]
    assert impact["pods_total"] == 3
    assert 0.05 < impact["failing_share"] <= 0.6

    # As the API returns it (the closing note prints this).
    client.force_login(member)
    body = client.get(f"/api/incidents/{incident.pk}/correlations/").json()
    assert [c["key"] for c in body["results"]] == keys
    assert body["run"]["status"] == "ok"
    print("\nAPI_CORRELATIONS " + json.dumps(body, indent=2))
    print("\nAPI_IMPACT " + json.dumps(client.get(f"/api/incidents/{incident.pk}/impact/").json(), indent=2))


def test_a_rerun_updates_the_same_rows_and_announces_nothing_unchanged(shop, sources, sent):
    incident = IncidentFactory(service=shop["checkout"])

    first = incident_correlate(incident_id=incident.pk)
    rows = dict(Correlation.objects.filter(incident=incident).values_list("key", "id"))
    announced = TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.CORRELATION_FOUND).count()
    second = incident_correlate(incident_id=incident.pk)

    assert first.pk != second.pk and second.status == RunStatus.OK
    assert dict(Correlation.objects.filter(incident=incident).values_list("key", "id")) == rows
    assert second.changed == 0
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.CORRELATION_FOUND).count() == announced
    assert CorrelationRun.objects.filter(incident=incident).count() == 2
