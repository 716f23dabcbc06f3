"""incident_correlate and friends, with stub collectors: what is stored, announced, retired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from correlation import services
from correlation.models import Correlation, CorrelationRun, RunStatus, RunTrigger
from correlation.services import correlation_schedule, incident_correlate
from incidents.models import Status, TimelineEvent, TimelineKind
from tests.correlation.stubs import crash, errors, rollout
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(shop):
    return IncidentFactory(service=shop["checkout"], detected_at=timezone.now() - timedelta(seconds=30))


def t(incident, seconds: float) -> float:
    """Seconds relative to detection, as unix time."""
    return incident.detected_at.timestamp() + seconds


def correlation_events(incident) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.CORRELATION_FOUND))


def test_findings_are_stored_ranked_with_their_factors_and_announced(
    incident, stubs, sent, django_capture_on_commit_callbacks
):
    stubs.kubernetes.findings = [rollout(t(incident, -600)), crash(t(incident, -200))]
    stubs.metrics.findings = [errors(t(incident, -20))]
    stubs.metrics.facts = {"error_ratio_last": 0.4, "error_ratio_peak": 0.45}
    stubs.kubernetes.facts = {"pods_total": 3, "pods_affected": ["checkout-a", "checkout-b"]}

    with django_capture_on_commit_callbacks(execute=True):
        run = incident_correlate(incident_id=incident.pk)

    assert (run.status, run.findings, run.changed) == (RunStatus.OK, 3, 3)
    rows = list(Correlation.objects.filter(incident=incident))
    assert [(r.key, r.rank) for r in rows] == [
        ("change:shop/checkout:12", 1),
        ("infrastructure:checkout:crash_loop", 2),
        ("metrics:checkout:error_ratio", 3),
    ]
    assert rows[0].factors["temporal"]["why"] == "began 10 min before the symptom"
    assert rows[1].factors["temporal"]["why"] == "began at least 3 min before the symptom"
    assert rows[1].onset_is_upper_bound
    assert rows[2].evidence == {"peak": None}, "NaN is stored as null, which PostgreSQL's jsonb accepts"
    assert sum(f["contribution"] for f in rows[0].factors.values()) == pytest.approx(rows[0].confidence, abs=0.003)
    assert run.symptom_start.timestamp() == pytest.approx(t(incident, -20))

    events = correlation_events(incident)
    assert [e.data["correlation"] for e in events] == [r.pk for r in rows]
    assert events[0].actor_name == "correlator"
    confidence = f"{rows[0].confidence:.2f}"
    assert events[0].message == f"Probable cause #1: Rollout of checkout to revision 12 (confidence {confidence})"
    found = [m for m in sent if m["type"] == "correlation_found"]
    assert [m["data"]["title"] for m in found] == [r.title for r in rows]
    assert found[0]["data"]["event"]["id"] == events[0].pk
    assert found[0]["groups"] == ["staff", f"team.{incident.service.team_id}"]

    incident.refresh_from_db()
    assert incident.status == Status.OPEN, "correlation never changes an incident's status"
    assert incident.impact["suggested_severity"] == "critical"
    assert incident.impact["dependents"] == ["frontend"]
    frontend = incident.service.dependents.get()
    assert incident.impact["blast_radius"][1] == {
        "service": "frontend", "depth": 1, "id": frontend.pk, "name": "frontend"
    }


def test_nothing_is_announced_again_until_a_confidence_moves(incident, stubs):
    stubs.kubernetes.findings = [rollout(t(incident, -600))]
    stubs.metrics.findings = [errors(t(incident, -20))]
    incident_correlate(incident_id=incident.pk)
    assert len(correlation_events(incident)) == 2

    again = incident_correlate(incident_id=incident.pk)
    assert again.changed == 0 and len(correlation_events(incident)) == 2

    stubs.metrics.findings = [errors(t(incident, -20), magnitude=0.3)]
    moved = incident_correlate(incident_id=incident.pk)
    assert moved.changed == 1
    last = correlation_events(incident)[-1]
    assert last.data["key"] == "metrics:checkout:error_ratio"
    assert last.data["previous_confidence"] > last.data["confidence"]
    assert Correlation.objects.filter(incident=incident).count() == 2


def test_a_finding_no_longer_seen_is_retired_but_a_failed_collector_keeps_its_own(incident, stubs):
    stubs.kubernetes.findings = [rollout(t(incident, -600)), crash(t(incident, -200))]
    stubs.metrics.findings = [errors(t(incident, -20))]
    incident_correlate(incident_id=incident.pk)

    stubs.kubernetes.findings = [rollout(t(incident, -600))]  # the crash is over
    stubs.metrics.behaviour = "garbage"  # and Prometheus answers garbage this time
    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.PARTIAL
    assert run.collectors["metrics"]["status"] == "failed"
    assert run.collectors["metrics"]["error"].startswith("BadResponse: Prometheus answered 200")
    active = dict(Correlation.objects.filter(incident=incident, active=True).values_list("key", "rank"))
    assert active == {"change:shop/checkout:12": 1, "metrics:checkout:error_ratio": 2}
    retired = Correlation.objects.get(incident=incident, key="infrastructure:checkout:crash_loop")
    assert (retired.active, retired.rank, retired.is_root_cause_candidate) == (False, None, False)

    stubs.kubernetes.findings = [rollout(t(incident, -600)), crash(t(incident, -200))]
    stubs.metrics.behaviour = None
    incident_correlate(incident_id=incident.pk)
    revived = correlation_events(incident)[-1]
    assert revived.data["key"] == "infrastructure:checkout:crash_loop", "a finding that returns is news again"


@pytest.mark.parametrize("behaviour", ["garbage", "crash", "hang"])
def test_a_failing_collector_is_recorded_and_the_others_go_on(incident, stubs, settings, behaviour):
    settings.CORRELATION_COLLECTOR_TIMEOUTS = {"logs": 0.5}
    stubs.kubernetes.findings = [rollout(t(incident, -600))]
    stubs.logs.behaviour = behaviour

    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.PARTIAL
    assert run.collectors["logs"]["status"] == "failed"
    assert {"garbage": "BadResponse", "crash": "internal error: ZeroDivisionError", "hang": "timed out after 0.5 s"}[
        behaviour
    ] in run.collectors["logs"]["error"]
    assert run.collectors["kubernetes"]["status"] == "ok"
    assert list(Correlation.objects.filter(incident=incident).values_list("key", flat=True)) == [
        "change:shop/checkout:12"
    ]


def test_every_collector_failing_stores_nothing_and_says_so(incident, stubs):
    for stub in stubs.all():
        stub.behaviour = "garbage"

    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.FAILED
    assert not Correlation.objects.exists()
    assert not correlation_events(incident)


def test_an_incident_without_a_service_skips_every_collector(stubs, db):
    incident = IncidentFactory(service=None)

    run = incident_correlate(incident_id=incident.pk)

    assert run.status == RunStatus.OK
    assert {c["status"] for c in run.collectors.values()} == {"skipped"}
    assert all(not stub.calls for stub in stubs.all())
    incident.refresh_from_db()
    assert incident.impact["blast_radius"] == []


def test_the_collectors_see_the_service_its_dependencies_and_the_windows(incident, stubs, settings):
    settings.CORRELATION_LOOKBACK_SECONDS = 600
    incident_correlate(incident_id=incident.pk)

    context = stubs.metrics.calls[0]
    assert context.service.slug == "checkout"
    assert [d.slug for d in context.dependencies] == ["payments"]
    assert context.window.start == pytest.approx(t(incident, -600))
    assert context.window.baseline_end == context.window.start
    assert context.window.start - context.window.baseline_start == pytest.approx(630, abs=2)


def test_a_second_caller_gets_the_running_run_and_a_lost_run_is_taken_over(incident, stubs):
    running = CorrelationRun.objects.create(incident=incident, trigger=RunTrigger.PERIODIC)

    assert incident_correlate(incident_id=incident.pk) == running
    assert not stubs.metrics.calls

    CorrelationRun.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(hours=1))
    run = incident_correlate(incident_id=incident.pk)
    assert run.pk != running.pk and run.status == RunStatus.OK
    running.refresh_from_db()
    assert running.status == RunStatus.FAILED and "abandoned" in running.error


def test_a_missing_incident_is_not_an_error(stubs, db):
    assert incident_correlate(incident_id=999_999) is None


def test_schedule_waits_for_the_commit(incident, stubs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        correlation_schedule(incident.pk)
    assert not CorrelationRun.objects.exists()
    assert len(callbacks) == 1

    callbacks[0]()

    run = CorrelationRun.objects.get()
    assert (run.incident_id, run.trigger, run.status) == (incident.pk, "created", RunStatus.OK)


def test_a_crash_while_recording_releases_the_claim(incident, stubs, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_incident_impact_set", broken)
    with pytest.raises(RuntimeError):
        incident_correlate(incident_id=incident.pk)
    run = CorrelationRun.objects.get()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
