"""incident_open_or_attach: what detection calls on every firing signal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, IncidentSource, Severity, Status, TimelineKind
from incidents.services import incident_open_or_attach, incident_transition, open_or_attach
from reliability_studio.lib.errors import DomainError
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def signal(service, at=None, **overrides):
    values = {
        "fingerprint": "rule-7:checkout",
        "title": "Checkout error rate above 5%",
        "severity": Severity.HIGH,
        "service": service,
        "labels": {"service": "checkout"},
        "message": "error rate 12% > 5%",
        "data": {"value": 0.12},
        "at": at,
    }
    return {**values, **overrides}


def kinds(incident):
    return list(incident.timeline.values_list("kind", flat=True))


def test_first_signal_opens_an_incident_with_a_detected_event(service, sent, django_capture_on_commit_callbacks):
    at = timezone.now() - timedelta(minutes=2)

    with django_capture_on_commit_callbacks(execute=True):
        incident, outcome = incident_open_or_attach(**signal(service, at))

    assert outcome == "opened"
    incident.refresh_from_db()
    assert incident.status == Status.OPEN
    assert incident.source == IncidentSource.RULE
    assert incident.detected_at == at == incident.last_seen_at
    assert incident.signal_count == 1
    assert incident.labels == {"service": "checkout"}
    event = incident.timeline.get()
    assert (event.kind, event.actor_name, event.message, event.data) == (
        TimelineKind.DETECTED,
        "detector",
        "error rate 12% > 5%",
        {"value": 0.12},
    )
    assert [(m["type"], m["data"]["id"]) for m in sent] == [("incident_created", incident.pk)]
    assert sent[0]["groups"] == ["staff", f"team.{service.team_id}"]


def test_second_signal_for_open_incident_attaches_instead_of_opening(service, sent, django_capture_on_commit_callbacks):
    first_at = timezone.now() - timedelta(minutes=2)
    first, _ = incident_open_or_attach(**signal(service, first_at))

    with django_capture_on_commit_callbacks(execute=True):
        second, outcome = incident_open_or_attach(**signal(service, first_at + timedelta(minutes=1)))

    assert outcome == "attached"
    assert second.pk == first.pk
    assert Incident.objects.count() == 1
    second.refresh_from_db()
    assert second.signal_count == 2
    assert second.last_seen_at == first_at + timedelta(minutes=1)
    assert [(m["type"], m["data"]["signal_count"]) for m in sent] == [("incident_updated", 2)]


def test_repeated_signals_write_one_timeline_event_per_interval_not_one_per_cycle(service, settings):
    settings.SIGNAL_REPEAT_EVENT_SECONDS = 300
    start = timezone.now() - timedelta(hours=1)

    for minute in range(0, 12):  # a rule firing every minute for 11 more minutes
        incident, _ = incident_open_or_attach(**signal(service, start + timedelta(minutes=minute)))

    incident.refresh_from_db()
    assert incident.signal_count == 12
    assert incident.last_seen_at == start + timedelta(minutes=11)
    repeated = incident.timeline.filter(kind=TimelineKind.SIGNAL_REPEATED)
    assert [event.at - start for event in repeated] == [timedelta(minutes=5), timedelta(minutes=10)]
    assert [event.data["signal_count"] for event in repeated] == [6, 11]


def test_a_signal_older_than_the_last_seen_one_does_not_move_last_seen_back(service):
    now = timezone.now()
    incident_open_or_attach(**signal(service, now))

    incident, _ = incident_open_or_attach(**signal(service, now - timedelta(minutes=3)))

    assert incident.last_seen_at == now
    assert incident.signal_count == 2


def test_a_more_severe_signal_raises_the_severity_and_a_milder_one_never_lowers_it(service):
    at = timezone.now() - timedelta(minutes=5)
    incident_open_or_attach(**signal(service, at, severity=Severity.MEDIUM))

    incident, _ = incident_open_or_attach(**signal(service, at + timedelta(minutes=1), severity=Severity.CRITICAL))
    incident, _ = incident_open_or_attach(**signal(service, at + timedelta(minutes=2), severity=Severity.LOW))

    incident.refresh_from_db()
    assert incident.severity == Severity.CRITICAL
    raised = incident.timeline.get(kind=TimelineKind.UPDATED)
    assert raised.data == {"changes": {"severity": ["medium", "critical"]}}


def test_signal_soon_after_resolution_reopens_the_incident_to_investigating(
    service, member, sent, django_capture_on_commit_callbacks
):
    incident, _ = incident_open_or_attach(**signal(service, timezone.now() - timedelta(hours=2)))
    incident_transition(incident=incident, to=Status.RESOLVED, user=member, note="flapping alert")
    at = timezone.now() + timedelta(minutes=10)

    with django_capture_on_commit_callbacks(execute=True):
        reopened, outcome = incident_open_or_attach(**signal(service, at))

    assert outcome == "reopened"
    assert reopened.pk == incident.pk
    reopened.refresh_from_db()
    assert reopened.status == Status.INVESTIGATING
    assert reopened.resolved_at is None
    assert reopened.resolution_note == ""
    assert reopened.false_positive is False
    assert reopened.signal_count == 2
    assert reopened.last_seen_at == at
    event = reopened.timeline.get(kind=TimelineKind.REOPENED)
    assert event.message.startswith("Reopened: the signal came back 10 min after it was resolved.")
    assert (event.data["from"], event.data["to"]) == ("resolved", "investigating")
    assert [m["type"] for m in sent] == ["incident_updated"]
    assert Incident.objects.count() == 1


def test_a_resolved_incident_nobody_acknowledged_reopens_as_open(service):
    resolved_at = timezone.now() - timedelta(minutes=5)
    old = IncidentFactory(
        service=service, fingerprint="rule-7:checkout", status=Status.RESOLVED, resolved_at=resolved_at
    )

    incident, outcome = incident_open_or_attach(**signal(service))

    assert (incident.pk, outcome, incident.status) == (old.pk, "reopened", Status.OPEN)


def test_signal_after_the_reopen_window_opens_a_new_incident_seen_before(service, settings):
    settings.REOPEN_WINDOW_SECONDS = 600
    resolved_at = timezone.now() - timedelta(minutes=11)
    old = IncidentFactory(
        service=service,
        fingerprint="rule-7:checkout",
        status=Status.RESOLVED,
        acknowledged_at=resolved_at,
        resolved_at=resolved_at,
    )

    incident, outcome = incident_open_or_attach(**signal(service))

    assert outcome == "opened"
    assert incident.pk != old.pk
    assert incident.previous == old
    detected = incident.timeline.get()
    assert f"Seen before: #{old.pk}" in detected.message
    assert detected.data["previous_id"] == old.pk
    old.refresh_from_db()
    assert old.status == Status.RESOLVED


def test_the_reopen_window_defaults_to_one_hour(service):
    resolved_at = timezone.now() - timedelta(minutes=59)
    IncidentFactory(service=service, fingerprint="rule-7:checkout", status=Status.RESOLVED, resolved_at=resolved_at)
    assert incident_open_or_attach(**signal(service))[1] == "reopened"

    later = timezone.now() - timedelta(minutes=61)
    IncidentFactory(service=service, fingerprint="rule-8:checkout", status=Status.RESOLVED, resolved_at=later)
    assert incident_open_or_attach(**signal(service, fingerprint="rule-8:checkout"))[1] == "opened"


def test_losing_the_race_to_open_attaches_to_the_winner(service, monkeypatch):
    # The winner committed between the loser's read and its insert: the loser read "nothing open".
    winner = IncidentFactory(service=service, fingerprint="rule-7:checkout")
    real_lookup = open_or_attach._unresolved_for_update
    calls = []

    def stale_first_lookup(fingerprint):
        calls.append(fingerprint)
        return None if len(calls) == 1 else real_lookup(fingerprint)

    monkeypatch.setattr(open_or_attach, "_unresolved_for_update", stale_first_lookup)

    incident, outcome = incident_open_or_attach(**signal(service))

    assert (incident.pk, outcome) == (winner.pk, "attached")
    assert len(calls) == 2
    assert Incident.objects.count() == 1
    winner.refresh_from_db()
    assert winner.signal_count == 2
    # The loser's detected event went with its rolled-back savepoint.
    assert not winner.timeline.filter(kind=TimelineKind.DETECTED).exists()


def test_a_rolled_back_caller_transaction_publishes_nothing(service, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        incident_open_or_attach(**signal(service))
        raise RuntimeError("the detection chunk failed later")

    assert sent == []
    assert not Incident.objects.exists()


def test_an_incident_without_a_service_is_published_to_staff_only(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident_open_or_attach(**signal(None))

    assert sent[0]["groups"] == ["staff"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"severity": "apocalyptic"}, "severity"),
        ({"fingerprint": ""}, "fingerprint"),
        ({"fingerprint": "x" * 129}, "fingerprint"),
        ({"source": "pager"}, "source"),
    ],
)
def test_bad_signals_are_refused_naming_the_field_and_open_nothing(service, overrides, field):
    with pytest.raises(DomainError) as error:
        incident_open_or_attach(**signal(service, **overrides))

    assert error.value.field == field
    assert not Incident.objects.exists()


def test_a_very_long_title_is_clipped_rather_than_failing(service):
    incident, _ = incident_open_or_attach(**signal(service, title="x" * 1000))

    assert len(incident.title) == 300
    assert incident.title.endswith("…")
