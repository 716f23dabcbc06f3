"""The admin: lists and filters work; status and the timeline cannot be changed there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import Incident, Service, Status, TimelineEvent, TimelineKind
from tests.factories import IncidentFactory, ServiceFactory, TimelineEventFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def incident(service):
    made = IncidentFactory(service=service, title="Disk full")
    TimelineEventFactory(incident=made, kind=TimelineKind.DETECTED, message="disk at 99%")
    return made


def incident_form(incident: Incident, **overrides) -> dict:
    values = {
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "commander": "",
        "impact_started_at_0": "",
        "impact_started_at_1": "",
        "timeline-TOTAL_FORMS": "1",
        "timeline-INITIAL_FORMS": "1",
        "timeline-MIN_NUM_FORMS": "0",
        "timeline-MAX_NUM_FORMS": "0",
    }
    return {**values, **overrides}


@pytest.mark.parametrize(
    "url",
    [
        "/admin/incidents/team/",
        "/admin/incidents/service/",
        "/admin/incidents/incident/",
        "/admin/incidents/incident/?status__exact=open&severity__exact=medium",
        "/admin/incidents/timelineevent/",
        "/admin/incidents/timelineevent/?kind__exact=detected",
    ],
)
def test_admin_lists_and_filters_open(admin_client, incident, url):
    assert admin_client.get(url).status_code == 200


def test_the_incident_page_shows_the_timeline_read_only_and_status_as_text(admin_client, incident):
    response = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))

    assert response.status_code == 200
    assert b"disk at 99%" in response.content
    assert b'name="status"' not in response.content
    assert b'name="timeline-0-message"' not in response.content


def test_editing_in_the_admin_goes_through_the_service_and_ignores_status(admin_client, incident):
    url = reverse("admin:incidents_incident_change", args=[incident.pk])

    response = admin_client.post(url, incident_form(incident, title="Disk full on db-1", status="resolved"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert (incident.title, incident.status) == ("Disk full on db-1", Status.OPEN)
    assert incident.timeline.filter(kind=TimelineKind.UPDATED).count() == 1


def test_an_admin_edit_breaking_a_rule_shows_the_error_on_the_field(admin_client, incident, outsider):
    url = reverse("admin:incidents_incident_change", args=[incident.pk])

    response = admin_client.post(url, incident_form(incident, commander=outsider.pk))

    assert response.status_code == 200
    assert "commander" in response.context["adminform"].form.errors
    assert Incident.objects.get(pk=incident.pk).commander is None


def test_incidents_cannot_be_added_or_deleted_in_the_admin(admin_client, incident):
    assert admin_client.get(reverse("admin:incidents_incident_add")).status_code == 403
    assert admin_client.post(reverse("admin:incidents_incident_delete", args=[incident.pk])).status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_timeline_events_are_view_only_in_the_admin(admin_client, incident):
    event = incident.timeline.get()
    change_url = reverse("admin:incidents_timelineevent_change", args=[event.pk])

    assert admin_client.get(change_url).status_code == 200
    admin_client.post(change_url, {"message": "rewritten"})
    assert admin_client.get(reverse("admin:incidents_timelineevent_add")).status_code == 403
    assert admin_client.post(reverse("admin:incidents_timelineevent_delete", args=[event.pk])).status_code == 403
    assert TimelineEvent.objects.get(pk=event.pk).message == "disk at 99%"


def test_service_dependencies_are_editable_but_not_in_a_cycle(admin_client, service):
    database = ServiceFactory(team=service.team)
    database.depends_on.add(service)
    url = reverse("admin:incidents_service_change", args=[service.pk])
    form = {
        "name": service.name,
        "slug": service.slug,
        "team": service.team_id,
        "description": "",
        "runbook_url": "wiki.example.com/checkout",
        "telemetry_labels": '{"service": "checkout"}',
    }

    refused = admin_client.post(url, {**form, "depends_on": [database.pk]})
    other = ServiceFactory()
    accepted = admin_client.post(url, {**form, "depends_on": [other.pk]})

    assert "depends_on" in refused.context["adminform"].form.errors
    assert accepted.status_code == 302
    service = Service.objects.get(pk=service.pk)
    assert list(service.depends_on.all()) == [other]
    assert service.runbook_url == "https://wiki.example.com/checkout"
