"""The investigation's writes: rules, timeline events and realtime events, on the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import TimelineEvent
from investigation import services
from investigation.models import Hypothesis, HypothesisEvidence, InvestigationStep, RCAReport
from reliability_studio.lib.errors import DomainError, TransitionNotAllowed
from tests.factories import IncidentFactory
from tests.investigation.factories import CorrelationFactory, HypothesisFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(shop):
    return IncidentFactory(
        service=shop["checkout"],
        severity="high",
        status="investigating",
        detected_at=timezone.now() - timedelta(minutes=10),
    )


def kinds(incident) -> list[str]:
    return list(TimelineEvent.objects.filter(incident=incident).order_by("id").values_list("kind", flat=True))


# --- Hypotheses ---------------------------------------------------------------------------------


def test_creating_a_hypothesis_records_it_proposes_steps_and_tells_the_browsers(
    incident, member, sent, django_capture_on_commit_callbacks
):
    correlation = CorrelationFactory(
        incident=incident, signal="crash_loop", kind="infrastructure", service=incident.service
    )
    with django_capture_on_commit_callbacks(execute=True):
        change = services.hypothesis_create(
            incident=incident,
            user=member,
            title="  Bad config  ",
            confidence=0.4,
            evidence=[{"correlation": correlation.pk, "relation": "supports", "note": "crashes since the rollout"}],
        )

    hypothesis = change.hypothesis
    assert (hypothesis.title, hypothesis.status, hypothesis.confidence, hypothesis.created_by) == (
        "Bad config",
        "proposed",
        0.4,
        member,
    )
    assert hypothesis.evidence.get().note == "crashes since the rollout"
    assert [s.proposal_key for s in change.proposed_steps][:2] == [
        f"h{hypothesis.pk}:k8s:checkout",
        f"h{hypothesis.pk}:logs:checkout:errors",
    ]
    assert kinds(incident) == ["hypothesis_created", "step_created"]
    assert [m["type"] for m in sent] == ["incident_updated", "incident_updated"]
    assert sent[0]["data"]["id"] == incident.pk


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "ok", "confidence": 1.5}, "confidence"),
        ({"title": "ok", "confidence": -0.1}, "confidence"),
        ({"title": "ok", "confidence": float("nan")}, "confidence"),
        ({"title": "ok", "evidence": [{"correlation": 999999}]}, "evidence"),
        ({"title": "ok", "evidence": [{"correlation": 1, "step": 1}]}, "evidence"),
        ({"title": "ok", "evidence": [{"correlation": 1, "relation": "maybe"}]}, "evidence"),
    ],
)
def test_a_bad_hypothesis_names_the_field_and_changes_nothing(incident, member, fields, field):
    with pytest.raises(DomainError) as caught:
        services.hypothesis_create(incident=incident, user=member, **fields)
    assert caught.value.field == field
    assert not Hypothesis.objects.exists()
    assert kinds(incident) == []


def test_evidence_of_another_incident_is_refused(incident, member):
    elsewhere = CorrelationFactory()
    with pytest.raises(DomainError, match="not one of this incident's") as caught:
        services.hypothesis_create(incident=incident, user=member, title="x", evidence=[{"correlation": elsewhere.pk}])
    assert caught.value.field == "evidence"


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("proposed", "confirmed", "cannot be confirmed untested"),
        ("confirmed", "rejected", "which is final: reopen it"),
        ("rejected", "confirmed", "which is final: reopen it"),
        ("investigating", "proposed", "can move to confirmed or rejected, not to proposed"),
    ],
)
def test_a_status_jump_that_is_not_allowed_changes_nothing(incident, member, current, target, message):
    concluded = timezone.now() if current in ("confirmed", "rejected") else None
    hypothesis = HypothesisFactory(incident=incident, status=current, concluded_at=concluded)

    with pytest.raises(TransitionNotAllowed, match=message) as caught:
        services.hypothesis_update(hypothesis=hypothesis, user=member, status=target, title="changed too")

    assert caught.value.field == "status"
    hypothesis.refresh_from_db()
    assert (hypothesis.status, hypothesis.title) == (current, hypothesis.title)
    assert hypothesis.title != "changed too"
    assert kinds(incident) == []


def test_concluding_sets_and_reopening_clears_the_conclusion_time(incident, member):
    hypothesis = HypothesisFactory(incident=incident, status="investigating")

    services.hypothesis_update(hypothesis=hypothesis, user=member, status="rejected", conclusion="Pool is fine.")
    hypothesis.refresh_from_db()
    assert hypothesis.status == "rejected" and hypothesis.concluded_at is not None

    services.hypothesis_update(hypothesis=hypothesis, user=member, status="investigating")
    hypothesis.refresh_from_db()
    assert hypothesis.status == "investigating" and hypothesis.concluded_at is None
    events = TimelineEvent.objects.filter(incident=incident, kind="hypothesis_updated").order_by("id")
    assert [e.message for e in events] == [
        f"Hypothesis “{hypothesis.title}”: investigating → rejected: Pool is fine",
        f"Hypothesis “{hypothesis.title}”: rejected → investigating",
    ]


def test_confirming_lists_the_open_hypotheses_it_contradicts_without_rejecting_them(incident, member):
    shared = CorrelationFactory(incident=incident)
    confirmed = HypothesisFactory(incident=incident, status="investigating", title="Pool exhaustion")
    HypothesisEvidence.objects.create(hypothesis=confirmed, correlation=shared, relation="supports")
    refuted = HypothesisFactory(incident=incident, status="investigating", title="Network partition")
    HypothesisEvidence.objects.create(hypothesis=refuted, correlation=shared, relation="refutes")
    competing = HypothesisFactory(incident=incident, status="proposed", title="Payments down")
    HypothesisFactory(incident=incident, status="rejected", concluded_at=timezone.now(), title="Already rejected")

    change = services.hypothesis_update(hypothesis=confirmed, user=member, status="confirmed")

    assert [(c["id"], c["reason"]) for c in change.contradicts] == [
        (refuted.pk, "Evidence that supports “Pool exhaustion” refutes it."),
        (
            competing.pk,
            "A competing explanation, still proposed: if “Pool exhaustion” is the cause, reject it or "
            "say how both hold.",
        ),
    ]
    assert Hypothesis.objects.get(pk=competing.pk).status == "proposed"
    event = TimelineEvent.objects.get(incident=incident, kind="hypothesis_updated")
    assert event.data["contradicts"] == [refuted.pk, competing.pk]


def test_an_update_that_changes_nothing_writes_nothing(incident, member):
    hypothesis = HypothesisFactory(incident=incident, title="Same", confidence=0.5)
    services.hypothesis_update(hypothesis=hypothesis, user=member, title="Same", confidence=0.5)
    assert kinds(incident) == []


def test_evidence_links_are_added_and_their_relation_changed(incident, member):
    correlation = CorrelationFactory(incident=incident)
    hypothesis = HypothesisFactory(incident=incident)

    services.hypothesis_update(hypothesis=hypothesis, user=member, evidence=[{"correlation": correlation.pk}])
    services.hypothesis_update(
        hypothesis=hypothesis, user=member, evidence=[{"correlation": correlation.pk, "relation": "refutes"}]
    )

    assert list(hypothesis.evidence.values_list("relation", flat=True)) == ["refutes"]
    assert kinds(incident) == ["hypothesis_updated", "hypothesis_updated"]


# --- Steps --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"action": "reboot_everything"}, "action", "Unknown action 'reboot_everything'"),
        ({"action": "check_metrics", "parameters": {"window": {"start": "soon"}}}, "parameters", "window.start:"),
        (
            {"action": "check_metrics", "parameters": {"source": "nowhere"}},
            "parameters",
            "source: there is no prometheus data source 'nowhere'.",
        ),
        (
            {"action": "check_metrics", "parameters": {"service": "ghost"}},
            "parameters",
            "service: there is no service 'ghost'.",
        ),
        ({"action": "manual", "title": ""}, "title", "A title is required."),
    ],
)
def test_a_bad_step_names_the_field_and_changes_nothing(incident, member, fields, field, message):
    with pytest.raises(DomainError) as caught:
        services.step_create(incident=incident, user=member, **{"title": "Look", **fields})
    assert (caught.value.field, message in caught.value.message) == (field, True), caught.value.message
    assert not InvestigationStep.objects.exists()


def test_a_step_cannot_test_another_incidents_hypothesis(incident, member):
    other = HypothesisFactory()
    with pytest.raises(DomainError) as caught:
        services.step_create(incident=incident, user=member, title="x", action="manual", hypothesis=other.pk)
    assert caught.value.field == "hypothesis"


def test_a_manual_step_records_what_the_operator_found(incident, member):
    step = services.step_create(
        incident=incident,
        user=member,
        title="Ask the DBA",
        action="manual",
        parameters={"instructions": "Ask about the pool size"},
    )

    with pytest.raises(DomainError) as caught:
        services.step_update(step=step, user=member, status="completed")
    assert caught.value.field == "findings"

    step = services.step_update(
        step=step, user=member, status="completed", findings={"summary": "Pool is 20; it was 50 before the migration."}
    )
    assert (step.status, step.executed_by, step.findings["summary"]) == (
        "completed",
        member,
        "Pool is 20; it was 50 before the migration.",
    )
    assert step.started_at is not None and step.completed_at is not None
    assert kinds(incident) == ["step_created", "step_completed"]

    with pytest.raises(TransitionNotAllowed, match="nowhere: it is final"):
        services.step_update(step=step, user=member, status="in_progress")


def test_an_automated_steps_status_and_findings_come_from_running_it(incident, member):
    step = StepFactory(incident=incident, action="check_metrics")
    for fields, field in [({"status": "completed"}, "status"), ({"findings": {"summary": "x"}}, "findings")]:
        with pytest.raises(DomainError) as caught:
            services.step_update(step=step, user=member, **fields)
        assert caught.value.field == field


def test_a_finished_steps_parameters_are_kept(incident, member):
    step = StepFactory(
        incident=incident,
        action="check_metrics",
        status="completed",
        started_at=timezone.now(),
        completed_at=timezone.now(),
    )
    with pytest.raises(DomainError, match="can no longer change") as caught:
        services.step_update(step=step, user=member, parameters={"query": "up"})
    assert caught.value.field == "parameters"


def test_editing_a_step_is_on_the_timeline(incident, member):
    hypothesis = HypothesisFactory(incident=incident)
    step = StepFactory(incident=incident, action="check_metrics")

    services.step_update(step=step, user=member, title="Renamed", parameters={"query": "up"}, hypothesis=hypothesis.pk)

    step.refresh_from_db()
    assert (step.title, step.parameters, step.hypothesis) == ("Renamed", {"query": "up"}, hypothesis)
    event = TimelineEvent.objects.get(incident=incident)
    assert event.message == "Step “Renamed”: changed title, parameters, hypothesis"
    assert event.data["updated"] is True


# --- Proposals ----------------------------------------------------------------------------------


def test_proposing_twice_does_not_duplicate_steps(incident):
    first = services.steps_propose_for(incident=incident)
    CorrelationFactory(
        incident=incident,
        kind="change",
        signal="rollout",
        service=incident.service,
        evidence={"deployment": "checkout", "revision": 4},
    )
    second = services.steps_propose_for(incident=incident)
    third = services.steps_propose_for(incident=incident)

    assert [s.proposal_key for s in first] == ["metrics:checkout", "logs:checkout:errors", "k8s:checkout"]
    assert [s.proposal_key for s in second] == ["rollout:checkout:4"]
    assert third == []
    assert all(s.origin == "proposed" and s.reason for s in InvestigationStep.objects.all())
    events = TimelineEvent.objects.filter(incident=incident, kind="step_created")
    assert events.count() == 2
    assert events.first().message.startswith("Proposed 3 steps: Check the golden signals of checkout;")
    assert events.first().actor_name == "investigator"


def test_a_resolved_incident_gets_no_proposals(shop):
    incident = IncidentFactory(service=shop["checkout"], status="resolved", resolved_at=timezone.now())
    assert services.steps_propose_for(incident=incident) == []


# --- RCA ----------------------------------------------------------------------------------------


def test_each_rca_that_says_something_new_is_a_new_version(incident, member):
    first = services.rca_generate(incident=incident, user=member)
    again = services.rca_generate(incident=incident, user=member, now=timezone.now() + timedelta(hours=1))
    HypothesisFactory(incident=incident, status="investigating", title="Pool")
    second = services.rca_generate(incident=incident, user=member)

    assert (first.version, again.pk, second.version) == (1, first.pk, 2)
    assert first.content["root_cause"]["status"] == "unknown"
    assert second.markdown.startswith(f"# Postmortem: {incident.title}")
    assert RCAReport.objects.filter(incident=incident).count() == 2
    events = TimelineEvent.objects.filter(incident=incident, kind="rca_generated").order_by("id")
    assert [e.data["version"] for e in events] == [1, 2]


def test_a_hypothesis_does_not_get_a_second_copy_of_a_step_the_incident_has(incident, member):
    services.steps_propose_for(incident=incident)  # includes "Read the error logs of checkout"

    change = services.hypothesis_create(incident=incident, user=member, title="Exceptions in the cart handler")

    assert change.proposed_steps == []
    assert InvestigationStep.objects.filter(incident=incident, action="investigate_logs").count() == 1
