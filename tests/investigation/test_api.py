"""The investigation API: shapes, team scoping, bad input (400/404 naming the field, nothing
changed), runs, the RCA's formats and versions, and the schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from detection.models import DataSource
from incidents.models import TimelineEvent
from investigation.models import Hypothesis, InvestigationStep, RCAReport
from tests.factories import IncidentFactory
from tests.investigation.factories import HypothesisFactory, StepFactory

pytestmark = pytest.mark.django_db

DESIGN_HYPOTHESIS_KEYS = {"id", "title", "description", "status", "confidence"}
DESIGN_STEP_KEYS = {"id", "title", "action", "status", "parameters", "findings", "hypothesis"}


@pytest.fixture
def incident(shop):
    return IncidentFactory(
        service=shop["checkout"],
        severity="high",
        status="investigating",
        detected_at=timezone.now() - timedelta(minutes=5),
    )


@pytest.fixture
def base(incident) -> str:
    return f"/api/incidents/{incident.pk}/investigation"


# --- Shapes ------------------------------------------------------------------------------------


def test_hypotheses_are_listed_paginated_in_the_designs_shape(api, incident, base):
    HypothesisFactory(incident=incident, title="Pool exhaustion")
    HypothesisFactory()  # another incident's

    body = api.get(f"{base}/hypotheses/").json()

    assert set(body) >= {"results", "next"}
    assert [h["title"] for h in body["results"]] == ["Pool exhaustion"]
    assert set(body["results"][0]) >= DESIGN_HYPOTHESIS_KEYS
    assert body["results"][0]["allowed_transitions"] == ["investigating", "rejected"]


def test_steps_are_listed_paginated_in_the_designs_shape(api, incident, base):
    StepFactory(incident=incident, title="Look", action="check_metrics")
    StepFactory()

    body = api.get(f"{base}/steps/").json()

    assert [s["title"] for s in body["results"]] == ["Look"]
    assert set(body["results"][0]) >= DESIGN_STEP_KEYS
    assert body["next"] is None


def test_creating_a_hypothesis_and_a_step(api, incident, base):
    hypothesis = api.post(f"{base}/hypotheses/", {"title": "Pool exhaustion"}, format="json")
    assert hypothesis.status_code == 201
    assert (hypothesis.json()["confidence"], hypothesis.json()["contradicts"]) == (0.5, [])

    step = api.post(
        f"{base}/steps/",
        {"title": "Ask the DBA", "action": "manual", "hypothesis": hypothesis.json()["id"]},
        format="json",
    )

    assert step.status_code == 201
    assert (step.json()["status"], step.json()["hypothesis"], step.json()["created_by"]) == (
        "pending",
        hypothesis.json()["id"],
        "alice",
    )
    assert step.json()["allowed_transitions"] == ["in_progress", "completed", "failed"]


def test_a_manual_step_is_recorded_with_patch(api, incident, base):
    step = StepFactory(incident=incident, action="manual")

    response = api.patch(
        f"{base}/steps/{step.pk}/",
        {"status": "completed", "findings": {"summary": "Pool is 20.", "data": {"max": 20}}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["findings"]) == (
        "completed",
        {"summary": "Pool is 20.", "data": {"max": 20}},
    )


# --- Scoping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "hypotheses/"),
        ("post", "hypotheses/"),
        ("get", "steps/"),
        ("post", "steps/"),
        ("post", "steps/propose/"),
        ("get", "rca/"),
        ("get", "rca/versions/"),
        ("get", "recommended-actions/"),
    ],
)
def test_another_teams_incident_does_not_exist(outsider, base, method, path):
    client = APIClient()
    client.force_authenticate(outsider)
    response = getattr(client, method)(f"{base}/{path}", {"title": "x", "action": "manual"}, format="json")
    assert response.status_code == 404


def test_staff_see_every_incidents_investigation(base):
    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory(is_staff=True))
    assert client.get(f"{base}/hypotheses/").status_code == 200


def test_anonymous_requests_are_refused(base):
    assert APIClient().get(f"{base}/hypotheses/").status_code == 401


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("post", "run/")],
)
def test_a_step_of_another_incident_is_not_found_and_not_changed(api, incident, shop, base, method, suffix):
    other_incident = IncidentFactory(service=shop["payments"])  # same team: visible, but not this incident
    step = StepFactory(incident=other_incident, action="check_metrics", title="Theirs")

    response = getattr(api, method)(f"{base}/steps/{step.pk}/{suffix}", {"title": "Mine"}, format="json")

    assert response.status_code == 404
    step.refresh_from_db()
    assert (step.title, step.status) == ("Theirs", "pending")


def test_a_hypothesis_of_another_incident_is_not_found(api, base):
    elsewhere = HypothesisFactory()
    assert (
        api.patch(f"{base}/hypotheses/{elsewhere.pk}/", {"status": "investigating"}, format="json").status_code == 404
    )


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "Look", "action": "reboot"}, "action"),
        ({"action": "manual"}, "title"),
        ({"title": "Look", "action": "check_metrics", "parameters": {"window": {"minutes": -1}}}, "parameters"),
        ({"title": "Look", "action": "check_metrics", "parameters": ["up"]}, "parameters"),
        ({"title": "Look", "action": "test_hypothesis", "parameters": {"signal": "error_ratio"}}, "parameters"),
    ],
)
def test_a_bad_step_is_a_400_naming_the_field_and_nothing_is_created(api, incident, base, payload, field):
    response = api.post(f"{base}/steps/", payload, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not InvestigationStep.objects.exists()
    assert not TimelineEvent.objects.filter(incident=incident).exists()


def test_a_bad_parameter_is_named_in_the_message(api, base):
    response = api.post(
        f"{base}/steps/",
        {"title": "Look", "action": "check_metrics", "parameters": {"window": {"start": "yesterday"}}},
        format="json",
    )
    assert response.json() == {
        "parameters": ["window.start: window.start is an ISO 8601 time, e.g. 2024-05-01T12:00:00Z."]
    }


def test_a_hypothesis_of_another_incident_cannot_be_tested_here(api, base):
    response = api.post(
        f"{base}/steps/", {"title": "Look", "action": "manual", "hypothesis": HypothesisFactory().pk}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["hypothesis"]


@pytest.mark.parametrize("confidence", [1.5, -0.01, "high"])
def test_a_confidence_outside_0_to_1_is_a_400(api, incident, base, confidence):
    response = api.post(f"{base}/hypotheses/", {"title": "Pool", "confidence": confidence}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["confidence"]
    assert not Hypothesis.objects.exists()


def test_a_status_jump_is_a_400_and_changes_nothing(api, incident, base):
    hypothesis = HypothesisFactory(incident=incident, title="Pool")

    response = api.patch(
        f"{base}/hypotheses/{hypothesis.pk}/", {"status": "confirmed", "confidence": 0.9}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": ["A proposed hypothesis cannot be confirmed untested: move it to investigating first."]
    }
    hypothesis.refresh_from_db()
    assert (hypothesis.status, hypothesis.confidence) == ("proposed", 0.5)


def test_an_unknown_status_is_a_400(api, incident, base):
    hypothesis = HypothesisFactory(incident=incident)
    response = api.patch(f"{base}/hypotheses/{hypothesis.pk}/", {"status": "maybe"}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["status"])


def test_an_automated_steps_status_cannot_be_patched(api, incident, base):
    step = StepFactory(incident=incident, action="check_metrics")
    response = api.patch(f"{base}/steps/{step.pk}/", {"status": "completed"}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["status"])


# --- Running -----------------------------------------------------------------------------------


def test_running_answers_202_with_the_step_and_the_task(api, incident, base, django_capture_on_commit_callbacks):
    DataSource.objects.create(name="prometheus", kind="prometheus", url="http://127.0.0.1:9", timeout_seconds=1)
    step = StepFactory(incident=incident, action="check_metrics")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{base}/steps/{step.pk}/run/")

    assert response.status_code == 202
    assert response.json()["task_id"] == InvestigationStep.objects.get(pk=step.pk).task_id
    after = api.get(f"{base}/steps/{step.pk}/").json()
    assert after["status"] == "failed"
    assert after["findings"]["error"]
    assert after["executed_by"] == "alice"


def test_running_a_running_step_is_a_409(api, incident, base):
    step = StepFactory(incident=incident, action="check_metrics", status="in_progress", started_at=timezone.now())
    assert api.post(f"{base}/steps/{step.pk}/run/").status_code == 409


def test_running_a_manual_step_is_a_400_naming_the_action(api, incident, base):
    step = StepFactory(incident=incident, action="manual")
    response = api.post(f"{base}/steps/{step.pk}/run/")
    assert (response.status_code, list(response.json())) == (400, ["action"])


# --- RCA and recommendations -------------------------------------------------------------------


def test_the_rca_in_json_markdown_and_by_version(api, incident, base):
    first = api.get(f"{base}/rca/")
    assert first.status_code == 200
    assert (first.json()["version"], first.json()["root_cause"]["status"]) == (1, "unknown")
    assert set(first.json()) >= {
        "summary",
        "impact",
        "detection",
        "timeline",
        "root_cause",
        "contributing_factors",
        "evidence",
        "confidence",
        "action_items",
        "version",
        "created_at",
    }

    HypothesisFactory(incident=incident, title="Pool")
    second = api.get(f"{base}/rca/?format=markdown")
    assert second["Content-Type"] == "text/markdown; charset=utf-8"
    assert "_RCA version 2, generated" in second.content.decode()

    old = api.get(f"{base}/rca/?version=1&format=json")
    assert (old.status_code, old.json()["version"]) == (200, 1)
    versions = api.get(f"{base}/rca/versions/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1]
    assert RCAReport.objects.count() == 2


def test_an_unknown_rca_version_is_a_404_in_either_format(api, base):
    assert api.get(f"{base}/rca/?version=9").status_code == 404
    markdown = api.get(f"{base}/rca/?version=9&format=markdown")
    assert (markdown.status_code, markdown.content.decode()) == (404, "No RCA version 9 for this incident.")


def test_recommended_actions_come_with_their_reasons(api, base):
    body = api.get(f"{base}/recommended-actions/").json()

    assert set(body) >= {"results", "next", "count"}
    assert body["count"] == len(body["results"]) >= 2
    first = body["results"][0]
    assert set(first) == {"id", "title", "reason", "priority", "category", "evidence", "link"}
    assert first["id"] == "process:commander"


# --- Schema ------------------------------------------------------------------------------------


def test_the_schema_documents_the_investigation_endpoints_and_validates(api):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "hypotheses/",
        "hypotheses/{hypothesis_id}/",
        "steps/",
        "steps/{step_id}/",
        "steps/{step_id}/run/",
        "rca/",
        "recommended-actions/",
    ):
        assert (
            f"/api/incidents/{{id}}/investigation/{path}" in paths
            or f"/api/incidents/{{pk}}/investigation/{path}" in paths
        ), path
    validate_schema(SchemaGenerator().get_schema(request=None, public=True))
