"""Sources that time out or answer garbage, through the real clients: recorded, never a crash,
never a made-up finding."""

from __future__ import annotations

import pytest

from correlation import tasks
from correlation.models import Correlation, CorrelationRun, RunStatus
from incidents.models import TimelineEvent, TimelineKind
from tests.correlation.conftest import kubernetes_source, loki_source, prometheus_source
from tests.factories import IncidentFactory
from tests.support.fixture_http import FixtureServer

pytestmark = pytest.mark.django_db


def test_garbage_a_hang_and_a_server_error_are_three_recorded_failures(shop, settings, k8s_server, loki_server):
    settings.CORRELATION_COLLECTOR_TIMEOUTS = {"logs": 1.0}
    with FixtureServer() as prometheus:
        prometheus.answer_all("garbage", status=200)
        loki_server.answer_all("hang")
        server, kubeconfig = k8s_server
        server.answer_all("error", status=500)
        prometheus_source(prometheus.url)
        loki_source(loki_server.url)
        kubernetes_source(kubeconfig)
        incident = IncidentFactory(service=shop["checkout"])

        tasks.correlate.delay(incident.pk)  # a task that must not raise

        loki_server.behave()  # release the hanging request
    run = CorrelationRun.objects.get()
    assert run.status == RunStatus.FAILED
    collectors = run.collectors
    assert collectors["metrics"]["status"] == "failed"
    assert collectors["metrics"]["error"].startswith("BadResponse: Prometheus answered 200 with a body that is not")
    assert collectors["traces"]["status"] == "failed"
    assert collectors["logs"] == {"status": "failed", "duration_ms": 1000.0, "findings": 0,
                                  "error": "timed out after 1 s"}
    assert collectors["kubernetes"]["status"] == "failed"
    assert collectors["kubernetes"]["error"].startswith("SourceUnavailable: Kubernetes API answered 500")
    assert not Correlation.objects.exists()
    assert not TimelineEvent.objects.filter(kind=TimelineKind.CORRELATION_FOUND).exists()
    incident.refresh_from_db()
    assert incident.impact["suggested_severity"] == "low"
    assert incident.impact["failing_share"] is None, "unknown is not zero"


def test_a_broken_kubeconfig_fails_only_its_collector(shop, db, tmp_path):
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    kubernetes_source(tmp_path / "kubeconfig")
    incident = IncidentFactory(service=shop["checkout"])

    tasks.correlate.delay(incident.pk)

    run = CorrelationRun.objects.get()
    assert run.collectors["kubernetes"]["status"] == "failed"
    assert "cannot load the Kubernetes configuration" in run.collectors["kubernetes"]["error"]
    assert {run.collectors[name]["status"] for name in ("metrics", "logs", "traces")} == {"skipped"}
