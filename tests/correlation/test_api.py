"""GET correlations and impact, POST correlate: scoped to the user's teams, thin over services."""

from __future__ import annotations

import pytest

from correlation.models import CorrelationRun
from correlation.services import incident_correlate
from tests.correlation.stubs import errors, rollout
from tests.factories import IncidentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

DESIGN_FIELDS = {"id", "kind", "source", "title", "detail", "evidence", "confidence", "factors", "rank",
                 "is_root_cause_candidate"}


@pytest.fixture
def incident(shop, stubs):
    incident = IncidentFactory(service=shop["checkout"])
    at = incident.detected_at.timestamp()
    stubs.kubernetes.findings = [rollout(at - 600)]
    stubs.metrics.findings = [errors(at - 10)]
    stubs.metrics.facts = {"error_ratio_last": 0.07, "error_ratio_peak": 0.09}
    return incident


@pytest.fixture
def outsider(db):
    user = UserFactory()
    TeamFactory(members=[user])
    return user


def test_correlations_come_ranked_with_factors_and_the_latest_run(client, member, incident):
    incident_correlate(incident_id=incident.pk)
    client.force_login(member)

    body = client.get(f"/api/incidents/{incident.pk}/correlations/").json()

    assert body["count"] == 2 and body["next"] is None
    first, second = body["results"]
    assert set(first) >= DESIGN_FIELDS
    assert (first["rank"], first["kind"], first["service"]) == (1, "change", "checkout")
    assert first["confidence"] >= second["confidence"]
    assert set(first["factors"]["temporal"]) == {"value", "weight", "contribution", "why"}
    assert body["run"]["status"] == "ok"
    assert body["run"]["collectors"]["metrics"] == {"status": "ok", "duration_ms": pytest.approx(0, abs=1000),
                                                    "findings": 1}


def test_retired_correlations_are_listed_only_when_asked_for(client, member, incident, stubs):
    incident_correlate(incident_id=incident.pk)
    stubs.metrics.findings = []
    incident_correlate(incident_id=incident.pk)
    client.force_login(member)

    assert client.get(f"/api/incidents/{incident.pk}/correlations/").json()["count"] == 1
    everything = client.get(f"/api/incidents/{incident.pk}/correlations/?all=1").json()["results"]
    assert [(c["kind"], c["active"], c["rank"]) for c in everything] == [("change", True, 1), ("metrics", False, None)]


def test_correlate_runs_again_and_answers_accepted(client, member, incident, django_capture_on_commit_callbacks):
    client.force_login(member)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/incidents/{incident.pk}/correlate/")

    assert response.status_code == 202
    body = response.json()
    assert body["incident"] == incident.pk and body["scheduled"] is True
    # The task was queued for after the commit; in tests it runs in-process, as in the embedded default.
    assert CorrelationRun.objects.get().trigger == "manual"


def test_impact_is_what_the_latest_run_stored(client, member, incident):
    client.force_login(member)
    assert client.get(f"/api/incidents/{incident.pk}/impact/").json()["computed_at"] is None

    incident_correlate(incident_id=incident.pk)
    body = client.get(f"/api/incidents/{incident.pk}/impact/").json()

    assert body["incident"] == incident.pk
    assert body["suggested_severity"] == "high"
    assert body["failing_share"] == 0.07
    assert [s["service"] for s in body["blast_radius"]] == ["checkout", "frontend"]
    assert body["reasons"] == ["7.0% of requests failing"]


@pytest.mark.parametrize("method, path", [
    ("get", "correlations/"), ("post", "correlate/"), ("get", "impact/"),
])
def test_another_teams_incident_does_not_exist(client, outsider, incident, method, path):
    client.force_login(outsider)

    response = getattr(client, method)(f"/api/incidents/{incident.pk}/{path}")

    assert response.status_code == 404
    assert not CorrelationRun.objects.exists()


def test_anonymous_requests_are_refused(client, incident):
    assert client.get(f"/api/incidents/{incident.pk}/correlations/").status_code == 401
