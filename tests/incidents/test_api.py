"""The incidents API: scoping, filters, lifecycle actions, timeline, teams and services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Incident, Service, Severity, Status, TimelineEvent, TimelineKind
from incidents.services import incident_transition
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db

DESIGN_INCIDENT_KEYS = {
    "id", "title", "description", "severity", "status", "service", "fingerprint", "detected_at",
    "acknowledged_at", "mitigated_at", "resolved_at", "mtta_seconds", "mttr_seconds", "url",
}  # fmt: skip


@pytest.fixture
def api(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member)
    return client


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service, title="Checkout 500s", detected_at=timezone.now() - timedelta(hours=1))


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


# --- list, scoping, filters -------------------------------------------------------------------


def test_the_list_shows_my_teams_incidents_only_in_designs_shape(api, incident):
    IncidentFactory()  # another team's
    IncidentFactory(service=None)  # unknown service: staff only

    response = api.get("/api/incidents/")

    assert response.status_code == 200
    body = response.json()
    assert ids(response) == [incident.pk]
    assert set(body) >= {"results", "next"}
    item = body["results"][0]
    assert set(item) >= DESIGN_INCIDENT_KEYS
    assert (item["service"], item["team"], item["status"], item["url"]) == (
        incident.service_id,
        incident.service.team_id,
        "open",
        f"/incidents/{incident.pk}/",
    )


def test_staff_see_every_incident(staff, incident):
    other = IncidentFactory()
    orphan = IncidentFactory(service=None)
    client = APIClient()
    client.force_authenticate(staff)

    assert set(ids(client.get("/api/incidents/"))) == {incident.pk, other.pk, orphan.pk}


def test_an_anonymous_request_is_refused(incident):
    assert APIClient().get("/api/incidents/").status_code == 401


def test_a_jwt_bearer_token_works_like_a_session(client, member, incident):
    from tests.factories import PASSWORD

    token = client.post("/api/auth/token/", {"username": member.username, "password": PASSWORD}).json()["access"]

    response = client.get("/api/incidents/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert ids(response) == [incident.pk]


def test_the_list_filters_by_status_severity_service_team_time_and_title(api, service, member):
    now = timezone.now()
    other_service = ServiceFactory(team=service.team, slug="payments")
    a = IncidentFactory(
        service=service, severity=Severity.CRITICAL, title="DB down", detected_at=now - timedelta(days=2)
    )
    b = IncidentFactory(
        service=other_service, severity=Severity.LOW, title="Slow API", detected_at=now - timedelta(hours=2)
    )
    c = IncidentFactory(service=service, severity=Severity.HIGH, title="db replica lag", detected_at=now)
    incident_transition(incident=c, to=Status.INVESTIGATING, user=member)

    assert ids(api.get("/api/incidents/", {"status": "investigating"})) == [c.pk]
    assert ids(api.get("/api/incidents/?severity=critical&severity=low")) == [b.pk, a.pk]
    assert ids(api.get("/api/incidents/", {"service": "payments"})) == [b.pk]
    assert ids(api.get("/api/incidents/", {"service": service.pk})) == [c.pk, a.pk]
    assert ids(api.get("/api/incidents/", {"team": service.team.slug})) == [c.pk, b.pk, a.pk]
    assert ids(api.get("/api/incidents/", {"team": TeamFactory().pk})) == []
    since = (now - timedelta(days=1)).isoformat()
    until = (now - timedelta(hours=1)).isoformat()
    assert ids(api.get("/api/incidents/", {"since": since, "until": until})) == [b.pk]
    assert ids(api.get("/api/incidents/", {"search": "DB"})) == [c.pk, a.pk]
    assert ids(api.get("/api/incidents/", {"ordering": "detected_at"})) == [a.pk, b.pk, c.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "closed"}, "status"), ({"severity": "apocalyptic"}, "severity"), ({"since": "yesterday"}, "since")],
)
def test_an_unknown_filter_value_is_a_400_naming_the_field(api, incident, query, field):
    response = api.get("/api/incidents/", query)

    assert response.status_code == 400
    assert field in response.json()


def test_the_list_is_cursor_paginated(api, service):
    now = timezone.now()
    made = [IncidentFactory(service=service, detected_at=now - timedelta(minutes=i)) for i in range(5)]

    first = api.get("/api/incidents/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    seen = [item["id"] for page in (first, second, third) for item in page["results"]]
    assert seen == [incident.pk for incident in made]
    assert third["next"] is None


def test_mtta_and_mttr_are_computed_per_incident(api, service):
    detected = timezone.now() - timedelta(hours=3)
    IncidentFactory(
        service=service,
        detected_at=detected,
        impact_started_at=detected - timedelta(minutes=10),
        acknowledged_at=detected + timedelta(minutes=4),
        status=Status.RESOLVED,
        resolved_at=detected + timedelta(hours=1),
    )

    item = api.get("/api/incidents/").json()["results"][0]

    assert (item["mtta_seconds"], item["mttr_seconds"]) == (240.0, 4200.0)


# --- declare, detail, update -------------------------------------------------------------------


def test_posting_to_the_list_declares_an_incident(api, member, service):
    response = api.post(
        "/api/incidents/",
        {"title": "Customers cannot pay", "severity": "critical", "service": service.pk, "description": "All cards"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    incident = Incident.objects.get(pk=response.json()["id"])
    assert (incident.title, incident.source, incident.created_by) == ("Customers cannot pay", "manual", member)
    assert response.json()["acknowledged_at"] is not None


def test_declaring_for_another_teams_service_is_a_400_naming_the_service(api):
    foreign = ServiceFactory()

    response = api.post("/api/incidents/", {"title": "X", "severity": "high", "service": foreign.pk}, format="json")

    assert response.status_code == 400
    assert "service" in response.json()
    assert not Incident.objects.exists()


def test_declaring_with_an_unknown_severity_is_a_400_naming_it(api, service):
    response = api.post("/api/incidents/", {"title": "X", "severity": "bad", "service": service.pk}, format="json")

    assert response.status_code == 400
    assert "severity" in response.json()


def test_the_detail_of_my_incident_is_served_and_another_teams_is_a_404(api, incident):
    other = IncidentFactory()

    assert api.get(f"/api/incidents/{incident.pk}/").json()["title"] == "Checkout 500s"
    assert api.get(f"/api/incidents/{other.pk}/").status_code == 404
    assert api.get("/api/incidents/999999/").status_code == 404
    assert api.get("/api/incidents/nope/").status_code == 404


def test_patch_changes_the_editable_fields(api, incident, member):
    impact = (incident.detected_at - timedelta(minutes=5)).isoformat()

    response = api.patch(
        f"/api/incidents/{incident.pk}/",
        {"title": "Checkout down", "severity": "critical", "commander": member.pk, "impact_started_at": impact},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["severity"], response.json()["commander"]) == (
        "Checkout down",
        "critical",
        member.pk,
    )
    assert incident.timeline.get().kind == TimelineKind.UPDATED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "resolved"}, "status"),
        ({"status": "resolved", "title": "sneaky"}, "status"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"fingerprint": "x"}, "fingerprint"),
        ({"title": ""}, "title"),
    ],
)
def test_patch_refuses_status_and_bad_fields_naming_them_and_changes_nothing(api, incident, body, field):
    response = api.patch(f"/api/incidents/{incident.pk}/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    fresh = Incident.objects.get(pk=incident.pk)
    assert (fresh.status, fresh.title, fresh.severity) == ("open", "Checkout 500s", incident.severity)
    assert not fresh.timeline.exists()


def test_patch_of_another_teams_incident_is_a_404(api):
    other = IncidentFactory(title="theirs")

    assert api.patch(f"/api/incidents/{other.pk}/", {"title": "mine"}, format="json").status_code == 404
    assert Incident.objects.get(pk=other.pk).title == "theirs"


def test_put_and_delete_are_not_offered(api, incident):
    assert api.put(f"/api/incidents/{incident.pk}/", {}, format="json").status_code == 405
    assert api.delete(f"/api/incidents/{incident.pk}/").status_code == 405


# --- acknowledge and transition ---------------------------------------------------------------


def test_acknowledge_then_acknowledge_again_is_a_409(api, incident, member):
    first = api.post(f"/api/incidents/{incident.pk}/acknowledge/")
    second = api.post(f"/api/incidents/{incident.pk}/acknowledge/")

    assert first.status_code == 200
    assert first.json()["acknowledged_at"] is not None
    assert first.json()["status"] == "open"
    assert second.status_code == 409
    assert member.username in second.json()["detail"]


def test_transition_moves_the_incident_and_returns_it(api, incident):
    response = api.post(f"/api/incidents/{incident.pk}/transition/", {"to": "investigating"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "investigating"
    assert response.json()["mtta_seconds"] is not None


def test_a_transition_to_the_current_status_is_a_409(api, incident):
    api.post(f"/api/incidents/{incident.pk}/transition/", {"to": "investigating"}, format="json")

    response = api.post(f"/api/incidents/{incident.pk}/transition/", {"to": "investigating"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": f"Incident #{incident.pk} is already investigating."}


def test_a_transition_not_allowed_is_a_400_naming_the_allowed_ones(api, incident, member):
    incident_transition(incident=incident, to=Status.MITIGATED, user=member, note="rolled back")

    response = api.post(f"/api/incidents/{incident.pk}/transition/", {"to": "investigating"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"to": ["An incident that is mitigated can move to resolved, not to investigating."]}
    assert Incident.objects.get(pk=incident.pk).status == Status.MITIGATED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "closed"}, "to"),
        ({}, "to"),
        ({"to": "resolved"}, "note"),
        ({"to": "resolved", "note": "x" * 10_001}, "note"),
    ],
)
def test_bad_transition_requests_are_400s_naming_the_field(api, incident, body, field):
    response = api.post(f"/api/incidents/{incident.pk}/transition/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Incident.objects.get(pk=incident.pk).status == Status.OPEN


def test_a_false_positive_is_resolved_straight_from_open_with_a_note(api, incident):
    response = api.post(
        f"/api/incidents/{incident.pk}/transition/",
        {"to": "resolved", "note": "synthetic check misfired"},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["false_positive"], response.json()["resolution_note"]) == (True, "synthetic check misfired")


def test_actions_on_another_teams_incident_are_404s_and_change_nothing(api):
    other = IncidentFactory()

    assert api.post(f"/api/incidents/{other.pk}/acknowledge/").status_code == 404
    assert api.post(f"/api/incidents/{other.pk}/transition/", {"to": "investigating"}, format="json").status_code == 404
    assert api.get(f"/api/incidents/{other.pk}/timeline/").status_code == 404
    assert api.post(f"/api/incidents/{other.pk}/timeline/", {"message": "hi"}, format="json").status_code == 404
    other.refresh_from_db()
    assert (other.status, other.acknowledged_at) == (Status.OPEN, None)
    assert not TimelineEvent.objects.exists()


# --- timeline -----------------------------------------------------------------------------------


def test_the_timeline_lists_events_oldest_first_in_pages(api, incident):
    start = timezone.now() - timedelta(minutes=30)
    events = [TimelineEventFactory(incident=incident, at=start + timedelta(minutes=i)) for i in range(3)]
    TimelineEventFactory()  # another incident's

    first = api.get(f"/api/incidents/{incident.pk}/timeline/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [e["id"] for e in first["results"] + second["results"]] == [e.pk for e in events]
    assert set(first["results"][0]) == {"id", "at", "kind", "actor", "actor_name", "message", "data"}


def test_posting_to_the_timeline_adds_a_comment(api, incident, member):
    response = api.post(f"/api/incidents/{incident.pk}/timeline/", {"message": "Rolling back v42"}, format="json")

    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["actor"], response.json()["message"]) == (
        "comment",
        member.pk,
        "Rolling back v42",
    )


@pytest.mark.parametrize("message", ["", "x" * 100_000])
def test_an_empty_or_100kb_comment_is_a_400_naming_the_message(api, incident, message):
    response = api.post(f"/api/incidents/{incident.pk}/timeline/", {"message": message}, format="json")

    assert response.status_code == 400
    assert "message" in response.json()
    assert not TimelineEvent.objects.exists()


def test_the_timeline_cannot_be_edited_or_deleted_through_the_api(api, incident):
    event = TimelineEventFactory(incident=incident)

    assert api.put(f"/api/incidents/{incident.pk}/timeline/", {"message": "x"}, format="json").status_code == 405
    assert api.delete(f"/api/incidents/{incident.pk}/timeline/").status_code == 405
    assert TimelineEvent.objects.get(pk=event.pk).message == event.message


# --- teams and services -------------------------------------------------------------------------


def test_teams_lists_my_teams(api, team):
    TeamFactory()

    response = api.get("/api/teams/")

    assert [t["id"] for t in response.json()["results"]] == [team.pk]
    assert set(response.json()["results"][0]) == {"id", "name", "slug"}


def test_services_list_mine_in_designs_shape_and_hide_others(api, service):
    dependency = ServiceFactory()
    service.depends_on.add(dependency)

    body = api.get("/api/services/").json()

    assert [s["id"] for s in body["results"]] == [service.pk]
    assert {"id", "name", "slug", "team", "telemetry_labels", "depends_on"} <= set(body["results"][0])
    assert body["results"][0]["depends_on"] == [dependency.pk]
    assert api.get(f"/api/services/{service.pk}/").status_code == 200
    assert api.get(f"/api/services/{dependency.pk}/").status_code == 404


def test_a_member_creates_a_service_for_their_team(api, team):
    response = api.post(
        "/api/services/",
        {"name": "Checkout", "slug": "checkout", "team": team.pk, "telemetry_labels": {"app": "checkout"}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert Service.objects.get(slug="checkout").team == team


def test_creating_a_service_for_another_team_is_a_400_naming_the_team(api):
    response = api.post("/api/services/", {"name": "X", "slug": "x", "team": TeamFactory().pk}, format="json")

    assert response.status_code == 400
    assert "team" in response.json()
    assert not Service.objects.filter(slug="x").exists()


def test_patching_a_service_changes_its_dependencies(api, service):
    dependency = ServiceFactory()

    response = api.patch(f"/api/services/{service.pk}/", {"depends_on": [dependency.pk]}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["depends_on"] == [dependency.pk]


# --- schema ---------------------------------------------------------------------------------------


def test_the_openapi_schema_is_served_and_documents_the_incident_endpoints(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/incidents/",
        "/api/incidents/{id}/",
        "/api/incidents/{id}/acknowledge/",
        "/api/incidents/{id}/transition/",
        "/api/incidents/{id}/timeline/",
        "/api/incidents/stats/",
        "/api/teams/",
        "/api/services/",
        "/api/services/{id}/",
    ]:
        assert path in paths


def test_the_schema_of_the_incident_endpoints_validates_against_openapi(api):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)

    validate_schema(schema)  # raises on an invalid document


def test_the_hand_built_incident_json_matches_the_declared_fields(service, member):
    from incidents.api.serializers import IncidentSerializer

    incident = IncidentFactory(
        service=service, commander=member, labels={"a": "b"}, impact_started_at=timezone.now() - timedelta(hours=2)
    )
    serializer = IncidentSerializer()
    generic = {
        name: field.to_representation(field.get_attribute(incident)) for name, field in serializer.fields.items()
    }
    generic.update(
        {
            name: getattr(serializer, f"get_{name}")(incident)
            for name in ("team", "service_name", "mtta_seconds", "mttr_seconds")
        }
    )

    assert IncidentSerializer(incident).data == generic
