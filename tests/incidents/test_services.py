"""The people's side of the lifecycle: declare, acknowledge, transition, update, comment, timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, IncidentSource, Service, Severity, Status, TimelineEvent, TimelineKind
from incidents.services import (
    incident_acknowledge,
    incident_comment,
    incident_declare,
    incident_impact_set,
    incident_transition,
    incident_update,
    service_create,
    service_update,
    timeline_event_add,
)
from reliability_studio.lib.errors import Conflict, DomainError, TransitionNotAllowed
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service, detected_at=timezone.now() - timedelta(minutes=30))


def move(incident, *steps, user, note="because"):
    for step in steps:
        incident = incident_transition(incident=incident, to=step, user=user, note=note)
    return incident


# --- transitions ------------------------------------------------------------------------------


def test_leaving_open_acknowledges_implicitly_and_records_the_change(
    incident, member, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        changed = incident_transition(incident=incident, to=Status.INVESTIGATING, user=member)

    changed.refresh_from_db()
    assert changed.status == Status.INVESTIGATING
    assert changed.acknowledged_by == member
    assert changed.acknowledged_at is not None
    event = changed.timeline.get(kind=TimelineKind.STATUS_CHANGED)
    assert (event.actor, event.actor_name) == (member, member.username)
    assert event.data == {"from": "open", "to": "investigating", "note": "", "acknowledged": True}
    # The transition's own event comes first; proposing guided steps on commit adds its own.
    assert (sent[0]["type"], sent[0]["data"]["status"]) == ("incident_updated", "investigating")


def test_an_earlier_acknowledgement_is_kept_when_leaving_open(incident, member):
    someone = UserFactory()
    incident_acknowledge(incident=incident, user=someone)

    changed = incident_transition(incident=incident, to=Status.INVESTIGATING, user=member)

    assert changed.acknowledged_by == someone
    assert changed.timeline.get(kind=TimelineKind.STATUS_CHANGED).data["acknowledged"] is False


def test_the_full_lifecycle_stamps_each_step(incident, member):
    incident = move(incident, Status.INVESTIGATING, Status.MITIGATED, user=member, note="")
    assert incident.mitigated_at is not None and incident.resolved_at is None

    incident = incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="rolled back v42")

    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.resolved_at >= incident.mitigated_at >= incident.acknowledged_at
    assert incident.resolution_note == "rolled back v42"
    assert incident.false_positive is False
    assert incident.timeline.count() == 3


def test_open_to_resolved_without_a_reason_is_refused_and_nothing_changes(incident, member, sent):
    with pytest.raises(DomainError) as error:
        incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="  ")

    assert error.value.field == "note"
    assert "false positive" in error.value.message
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_at) == (Status.OPEN, None)
    assert not incident.timeline.exists()
    assert sent == []


def test_open_to_resolved_with_a_reason_marks_a_false_positive(incident, member):
    resolved = incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="test traffic")

    resolved.refresh_from_db()
    assert resolved.false_positive is True
    assert resolved.resolution_note == "test traffic"
    assert resolved.acknowledged_by == member
    event = resolved.timeline.get()
    assert event.message == "open → resolved: test traffic (false positive)"
    assert event.data["false_positive"] is True


def test_a_forward_skip_from_investigating_needs_a_note_but_is_no_false_positive(incident, member):
    incident = move(incident, Status.INVESTIGATING, user=member)
    with pytest.raises(DomainError):
        incident_transition(incident=incident, to=Status.RESOLVED, user=member)

    resolved = incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="fixed by the deploy")

    assert resolved.false_positive is False
    assert resolved.mitigated_at is None


def test_resolved_to_investigating_reopens_and_clears_the_resolution(incident, member):
    incident = incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="looked fine")

    reopened = incident_transition(incident=incident, to=Status.INVESTIGATING, user=member, note="it is back")

    reopened.refresh_from_db()
    assert reopened.status == Status.INVESTIGATING
    assert (reopened.resolved_at, reopened.resolution_note, reopened.false_positive) == (None, "", False)
    assert reopened.timeline.last().kind == TimelineKind.REOPENED


def test_reopening_when_a_newer_incident_holds_the_fingerprint_is_a_conflict(incident, member):
    incident = incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="done")
    newer = IncidentFactory(service=incident.service, fingerprint=incident.fingerprint)

    with pytest.raises(Conflict) as error:
        incident_transition(incident=incident, to=Status.INVESTIGATING, user=member)

    assert f"#{newer.pk}" in error.value.message
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_a_transition_to_the_current_status_is_a_conflict(incident, member):
    incident = move(incident, Status.INVESTIGATING, user=member)

    with pytest.raises(Conflict, match="already investigating"):
        incident_transition(incident=incident, to=Status.INVESTIGATING, user=member)


def test_a_stale_copy_is_checked_against_the_row_in_the_database(incident, member):
    stale = Incident.objects.get(pk=incident.pk)
    move(incident, Status.INVESTIGATING, user=member)

    with pytest.raises(Conflict):
        incident_transition(incident=stale, to=Status.INVESTIGATING, user=member)

    assert Incident.objects.get(pk=incident.pk).timeline.count() == 1


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        ([Status.INVESTIGATING], Status.OPEN, "mitigated or resolved"),
        ([Status.INVESTIGATING, Status.MITIGATED], Status.INVESTIGATING, "resolved"),
        ([Status.RESOLVED], Status.MITIGATED, "investigating"),
    ],
)
def test_a_transition_not_allowed_names_the_allowed_ones(incident, member, path, target, allowed):
    incident = move(incident, *path, user=member)

    with pytest.raises(TransitionNotAllowed) as error:
        incident_transition(incident=incident, to=target, user=member, note="please")

    assert error.value.field == "to"
    assert f"can move to {allowed}, not to {target}" in error.value.message


def test_an_unknown_status_is_refused_naming_the_field(incident, member):
    with pytest.raises(DomainError) as error:
        incident_transition(incident=incident, to="closed", user=member)

    assert error.value.field == "to"


# --- acknowledge ------------------------------------------------------------------------------


def test_acknowledging_sets_mtta_without_changing_the_status(
    incident, member, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        acknowledged = incident_acknowledge(incident=incident, user=member)

    acknowledged.refresh_from_db()
    assert acknowledged.status == Status.OPEN
    assert acknowledged.acknowledged_by == member
    assert acknowledged.timeline.get().kind == TimelineKind.ACKNOWLEDGED
    assert [m["type"] for m in sent] == ["incident_updated"]


def test_a_second_acknowledgement_is_a_conflict_naming_who_was_first(incident, member):
    incident_acknowledge(incident=incident, user=member)

    with pytest.raises(Conflict, match=f"already acknowledged by {member.username}"):
        incident_acknowledge(incident=incident, user=UserFactory())


# --- declare ----------------------------------------------------------------------------------


def test_declaring_by_hand_opens_an_acknowledged_manual_incident(
    service, member, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_declare(
            title="  Customers report slow checkout ", severity=Severity.HIGH, service=service, user=member
        )

    incident.refresh_from_db()
    assert incident.title == "Customers report slow checkout"
    assert (incident.source, incident.status, incident.created_by) == (IncidentSource.MANUAL, Status.OPEN, member)
    assert incident.acknowledged_at == incident.detected_at
    assert incident.fingerprint.startswith("manual:")
    assert incident.timeline.get().kind == TimelineKind.DETECTED
    assert [m["type"] for m in sent] == ["incident_created"]


def test_two_declarations_with_the_same_title_are_two_incidents(service, member):
    first = incident_declare(title="Outage", severity=Severity.HIGH, service=service, user=member)
    second = incident_declare(title="Outage", severity=Severity.HIGH, service=service, user=member)

    assert first.pk != second.pk


def test_declaring_for_another_teams_service_is_refused(member):
    foreign = ServiceFactory()

    with pytest.raises(DomainError) as error:
        incident_declare(title="Outage", severity=Severity.HIGH, service=foreign, user=member)

    assert error.value.field == "service"
    assert not Incident.objects.exists()


def test_only_staff_may_declare_without_a_service(member, staff):
    with pytest.raises(DomainError):
        incident_declare(title="Outage", severity=Severity.HIGH, service=None, user=member)

    assert incident_declare(title="Outage", severity=Severity.HIGH, service=None, user=staff).service is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"severity": "urgent"}, "severity"),
        ({"impact_started_at": timezone.now() + timedelta(hours=1)}, "impact_started_at"),
    ],
)
def test_bad_declarations_name_the_field(service, member, overrides, field):
    values = {"title": "Outage", "severity": Severity.HIGH, "service": service, "user": member, **overrides}

    with pytest.raises(DomainError) as error:
        incident_declare(**values)

    assert error.value.field == field


# --- update -----------------------------------------------------------------------------------


def test_updating_fields_writes_one_event_listing_the_changes(
    incident, member, sent, django_capture_on_commit_callbacks
):
    impact = incident.detected_at - timedelta(minutes=10)

    with django_capture_on_commit_callbacks(execute=True):
        updated = incident_update(
            incident=incident,
            user=member,
            title="Checkout down",
            severity=Severity.CRITICAL,
            commander=member,
            impact_started_at=impact,
        )

    updated.refresh_from_db()
    assert (updated.title, updated.severity, updated.commander, updated.impact_started_at) == (
        "Checkout down",
        Severity.CRITICAL,
        member,
        impact,
    )
    event = updated.timeline.get()
    assert event.kind == TimelineKind.UPDATED
    assert event.data["changes"]["severity"] == ["medium", "critical"]
    assert event.data["changes"]["commander"] == [None, {"id": member.pk, "username": member.username}]
    assert "severity from medium to critical" in event.message
    assert [m["type"] for m in sent] == ["incident_updated"]


def test_an_update_that_changes_nothing_writes_nothing(incident, member, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident_update(incident=incident, user=member, title=incident.title, severity=incident.severity)

    assert not incident.timeline.exists()
    assert sent == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": Status.RESOLVED}, "status"),
        ({"fingerprint": "other"}, "fingerprint"),
        ({"severity": "urgent"}, "severity"),
        ({"title": ""}, "title"),
        ({"impact_started_at": timezone.now() + timedelta(days=1)}, "impact_started_at"),
    ],
)
def test_bad_updates_are_refused_naming_the_field_and_change_nothing(incident, member, fields, field):
    with pytest.raises(DomainError) as error:
        incident_update(incident=incident, user=member, **fields)

    assert error.value.field == field
    fresh = Incident.objects.get(pk=incident.pk)
    assert (fresh.status, fresh.title, fresh.severity) == (incident.status, incident.title, incident.severity)
    assert not fresh.timeline.exists()


def test_the_commander_must_belong_to_the_services_team(incident, member, outsider):
    with pytest.raises(DomainError) as error:
        incident_update(incident=incident, user=member, commander=outsider)

    assert error.value.field == "commander"


# --- comments and other apps' events ----------------------------------------------------------


def test_a_comment_is_appended_and_published(incident, member, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = incident_comment(incident=incident, user=member, message="  Paging the DB team. ")

    assert (event.kind, event.message, event.actor) == (TimelineKind.COMMENT, "Paging the DB team.", member)
    assert [(m["type"], m["data"]["id"]) for m in sent] == [("incident_updated", incident.pk)]


@pytest.mark.parametrize("message", ["", "   ", "x" * 10_001])
def test_empty_or_oversized_comments_are_refused_naming_the_message(incident, member, message):
    with pytest.raises(DomainError) as error:
        incident_comment(incident=incident, user=member, message=message)

    assert error.value.field == "message"
    assert not TimelineEvent.objects.exists()


def test_other_apps_add_their_events_and_the_incident_is_republished(
    incident, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = timeline_event_add(
            incident=incident,
            kind=TimelineKind.CORRELATION_FOUND,
            message="Deploy v42 5 min before",
            data={"correlation_id": 3},
            actor_name="correlator",
        )

    assert (event.kind, event.actor_name, event.data) == ("correlation_found", "correlator", {"correlation_id": 3})
    assert [m["type"] for m in sent] == ["incident_updated"]


@pytest.mark.parametrize("kind", [TimelineKind.STATUS_CHANGED, TimelineKind.COMMENT, "gossip"])
def test_other_apps_cannot_write_lifecycle_or_unknown_kinds(incident, kind):
    with pytest.raises(DomainError) as error:
        timeline_event_add(incident=incident, kind=kind)

    assert error.value.field == "kind"


# --- services ---------------------------------------------------------------------------------


def test_a_member_creates_a_service_for_their_team_with_dependencies(team, member):
    database = ServiceFactory()  # another team's: depending on it is normal

    created = service_create(
        user=member,
        name="Checkout",
        slug="checkout",
        team=team,
        telemetry_labels={"app": "checkout"},
        depends_on=[database],
    )

    assert created.team == team
    assert list(created.depends_on.all()) == [database]


def test_a_service_for_a_team_you_are_not_in_is_refused(member):
    with pytest.raises(DomainError) as error:
        service_create(user=member, name="X", slug="x", team=TeamFactory())

    assert error.value.field == "team"
    assert not Service.objects.filter(slug="x").exists()


def test_a_duplicate_slug_or_bad_labels_are_refused(service, member):
    with pytest.raises(DomainError) as slug_error:
        service_create(user=member, name="Again", slug=service.slug, team=service.team)
    with pytest.raises(DomainError) as label_error:
        service_create(user=member, name="New", slug="new", team=service.team, telemetry_labels={"port": 80})

    assert (slug_error.value.field, label_error.value.field) == ("slug", "telemetry_labels")


def test_a_dependency_cycle_is_refused(service, member):
    api = ServiceFactory(team=service.team)
    service_update(service=api, user=member, depends_on=[service])

    with pytest.raises(DomainError) as error:
        service_update(service=service, user=member, depends_on=[api])

    assert error.value.field == "depends_on"
    assert not service.depends_on.exists()


# --- the system as actor --------------------------------------------------------------------------


def test_a_system_resolution_neither_acknowledges_nor_judges_a_false_positive(incident):
    resolved = incident_transition(
        incident=incident, to=Status.RESOLVED, user=None, note="Auto-resolved: rule cleared.", actor_name="detector"
    )

    resolved.refresh_from_db()
    assert (resolved.status, resolved.acknowledged_at, resolved.false_positive) == (Status.RESOLVED, None, False)
    event = resolved.timeline.get()
    assert (event.actor, event.actor_name, event.data["acknowledged"]) == (None, "detector", False)


def test_a_system_transition_is_named_system_by_default(incident):
    changed = incident_transition(incident=incident, to=Status.INVESTIGATING, user=None)

    assert changed.timeline.get().actor_name == "system"


def test_correlation_stores_the_impact_without_an_event_and_pages_refresh(
    incident, sent, django_capture_on_commit_callbacks
):
    impact = {"blast_radius": [{"service": "checkout"}], "failing_share": 0.2}

    with django_capture_on_commit_callbacks(execute=True):
        updated = incident_impact_set(incident=incident, impact=impact)
        incident_impact_set(incident=incident, impact=impact)  # unchanged: nothing sent

    assert Incident.objects.get(pk=incident.pk).impact == impact
    assert updated.status == Status.OPEN
    assert not incident.timeline.exists()
    assert [m["type"] for m in sent] == ["incident_updated"]


def test_a_person_reopening_a_system_resolved_incident_acknowledges_it(incident, member):
    incident = incident_transition(incident=incident, to=Status.RESOLVED, user=None, note="Auto-resolved.")

    reopened = incident_transition(incident=incident, to=Status.INVESTIGATING, user=member)

    assert (reopened.status, reopened.acknowledged_by) == (Status.INVESTIGATING, member)
