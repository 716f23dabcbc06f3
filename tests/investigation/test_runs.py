"""Running steps: the claim, sources that fail, and the task's idempotence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from detection.models import DataSource
from incidents.models import TimelineEvent
from investigation import services, tasks
from investigation.models import InvestigationStep
from investigation.services import runs
from reliability_studio.lib.errors import Conflict, DomainError, TransitionNotAllowed
from tests.factories import IncidentFactory
from tests.investigation.factories import StepFactory
from tests.support.fixture_http import fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(shop):
    return IncidentFactory(
        service=shop["checkout"],
        severity="high",
        status="investigating",
        detected_at=timezone.now() - timedelta(minutes=5),
    )


def run(step: InvestigationStep, user, capture) -> InvestigationStep:
    with capture(execute=True):
        services.step_run_request(step=step, user=user)
    step.refresh_from_db()
    return step


def test_a_step_whose_source_cannot_be_reached_ends_failed_with_the_cause(
    incident, member, sent, django_capture_on_commit_callbacks
):
    # Nothing listens on port 9 (discard).
    DataSource.objects.create(name="prometheus", kind="prometheus", url="http://127.0.0.1:9", timeout_seconds=1)
    step = StepFactory(incident=incident, action="check_metrics", title="Golden signals")

    step = run(step, member, django_capture_on_commit_callbacks)

    assert step.status == "failed"
    assert step.findings["summary"].startswith("prometheus failed: ")
    assert "127.0.0.1:9" in step.findings["error"] or "connect" in step.findings["error"].lower()
    assert step.findings["error_type"] == "SourceUnavailable"
    assert (step.executed_by, step.attempts) == (member, 1)
    event = TimelineEvent.objects.get(incident=incident, kind="step_failed")
    assert event.data["error"] == step.findings["error"]
    assert event.actor == member
    assert {m["type"] for m in sent} == {"incident_updated"}


def test_a_failed_step_can_run_again(incident, member, django_capture_on_commit_callbacks):
    source = DataSource.objects.create(
        name="prometheus", kind="prometheus", url="http://127.0.0.1:9", timeout_seconds=1
    )
    step = run(StepFactory(incident=incident, action="check_metrics"), member, django_capture_on_commit_callbacks)
    source.delete()

    step = run(step, member, django_capture_on_commit_callbacks)

    assert (step.status, step.attempts) == ("failed", 2)
    assert step.findings["error"] == "no enabled prometheus data source is configured"


def test_loki_answering_500_fails_the_step_with_lokis_words(
    incident, member, loki_server, django_capture_on_commit_callbacks
):
    loki_server.answer_all("error", status=500)
    DataSource.objects.create(name="loki", kind="loki", url=loki_server.url, timeout_seconds=2)
    step = StepFactory(incident=incident, action="investigate_logs", parameters={"contains": "timeout"})

    step = run(step, member, django_capture_on_commit_callbacks)

    assert step.status == "failed"
    assert "500" in step.findings["error"]
    assert step.findings["data"] == {"source": "loki"}


def test_a_named_source_is_used_even_if_another_comes_first(
    incident, member, loki_server, django_capture_on_commit_callbacks
):
    loki_server.add("GET", "/loki/api/v1/query_range", fixture("loki_query_range_streams.json"))
    DataSource.objects.create(name="a-broken", kind="loki", url="http://127.0.0.1:9", timeout_seconds=1)
    good = DataSource.objects.create(name="b-loki", kind="loki", url=loki_server.url, timeout_seconds=2)
    step = services.step_create(
        incident=incident,
        user=member,
        title="Logs",
        action="investigate_logs",
        parameters={"source": good.pk, "window": {"minutes": 60}},
    )

    step = run(step, member, django_capture_on_commit_callbacks)

    assert step.status == "completed", step.findings
    assert step.findings["data"]["source"] == "b-loki"
    assert TimelineEvent.objects.filter(incident=incident, kind="step_completed").count() == 1


def test_a_kubernetes_step_reads_the_cluster(incident, member, k8s_server, django_capture_on_commit_callbacks):
    server, kubeconfig = k8s_server
    server.add("GET", "/api/v1/namespaces/shop/pods", fixture("k8s_pod_list.json"))
    server.add("GET", "/api/v1/namespaces/shop/events", fixture("k8s_event_list.json"))
    server.add("GET", "/apis/apps/v1/namespaces/shop/deployments", fixture("k8s_deployment_list.json"))
    server.add("GET", "/apis/apps/v1/namespaces/shop/replicasets", fixture("k8s_replicaset_list.json"))
    DataSource.objects.create(name="cluster", kind="kubernetes", kubeconfig=str(kubeconfig), timeout_seconds=3)
    step = services.step_create(
        incident=incident,
        user=member,
        title="Pods",
        action="check_kubernetes",
        parameters={"namespace": "shop", "selector": "app=checkout"},
    )

    step = run(step, member, django_capture_on_commit_callbacks)

    assert step.status == "completed", step.findings
    assert "CrashLoopBackOff" in step.findings["summary"]


def test_an_action_that_crashes_fails_the_step_instead_of_the_worker(
    incident, member, monkeypatch, django_capture_on_commit_callbacks
):
    DataSource.objects.create(name="prometheus", kind="prometheus", url="http://127.0.0.1:9")

    def boom(action, context):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("investigation.actions.run", boom)
    step = run(StepFactory(incident=incident, action="check_metrics"), member, django_capture_on_commit_callbacks)

    assert step.status == "failed"
    assert step.findings["error"] == "ZeroDivisionError: division by zero"


def test_traces_without_span_metrics_fail_saying_so(incident, member, django_capture_on_commit_callbacks):
    from tests.support.fixture_http import FixtureServer

    with FixtureServer() as server:
        server.add("POST", "/api/v1/query", {"status": "success", "data": {"resultType": "vector", "result": []}})
        DataSource.objects.create(name="prometheus", kind="prometheus", url=server.url, timeout_seconds=2)
        step = run(StepFactory(incident=incident, action="check_traces"), member, django_capture_on_commit_callbacks)

    assert step.status == "failed"
    assert step.findings["summary"].startswith("The step could not run: no traces to read")


# --- Claims and requests ------------------------------------------------------------------------


def test_running_is_refused_for_manual_completed_and_running_steps(incident, member):
    manual = StepFactory(incident=incident, action="manual")
    with pytest.raises(DomainError) as caught:
        services.step_run_request(step=manual, user=member)
    assert caught.value.field == "action"

    done = StepFactory(
        incident=incident,
        action="check_metrics",
        status="completed",
        started_at=timezone.now(),
        completed_at=timezone.now(),
    )
    with pytest.raises(TransitionNotAllowed, match="add a new step to look again"):
        services.step_run_request(step=done, user=member)

    running = StepFactory(incident=incident, action="check_metrics", status="in_progress", started_at=timezone.now())
    with pytest.raises(Conflict, match="already running"):
        services.step_run_request(step=running, user=member)


def test_a_step_whose_worker_was_lost_can_be_taken_over(incident, member):
    lost = StepFactory(
        incident=incident,
        action="check_metrics",
        status="in_progress",
        started_at=timezone.now() - services.STALE_RUN_AFTER - timedelta(seconds=1),
    )
    assert services.step_run_request(step=lost, user=member).task_id
    assert services.step_claim(step_id=lost.pk) is True


def test_the_claim_is_a_compare_and_swap(incident):
    step = StepFactory(incident=incident, action="check_metrics")
    assert services.step_claim(step_id=step.pk) is True
    assert services.step_claim(step_id=step.pk) is False
    step.refresh_from_db()
    assert (step.status, step.attempts) == ("in_progress", 1)


def test_manual_steps_are_never_claimed(incident):
    assert services.step_claim(step_id=StepFactory(incident=incident, action="manual").pk) is False


def test_a_duplicate_delivery_of_the_task_does_nothing(incident, member, monkeypatch):
    step = StepFactory(incident=incident, action="check_metrics")
    executed: list[int] = []
    monkeypatch.setattr(services, "step_execute", lambda *, step_id: executed.append(step_id))

    tasks.step_run(step.pk)
    tasks.step_run(step.pk)

    assert executed == [step.pk]


def test_a_result_for_a_run_that_was_taken_over_is_dropped(incident, monkeypatch):
    DataSource.objects.create(name="prometheus", kind="prometheus", url="http://127.0.0.1:9")
    step = StepFactory(incident=incident, action="check_metrics")
    services.step_claim(step_id=step.pk)
    original = runs._step_finish

    def take_over_first(**kwargs):
        # Another worker declared ours lost and claimed the step before we finished.
        InvestigationStep.objects.filter(pk=step.pk).update(started_at=timezone.now() + timedelta(seconds=5))
        return original(**kwargs)

    monkeypatch.setattr(runs, "_step_finish", take_over_first)
    finished = services.step_execute(step_id=step.pk)

    assert finished.status == "in_progress"
    assert not TimelineEvent.objects.filter(incident=incident).exists()


def test_the_proposal_tasks_are_idempotent_and_ignore_a_missing_incident(incident):
    tasks.steps_propose(incident.pk)
    tasks.steps_propose(incident.pk)
    tasks.playbooks_apply(incident.pk)
    tasks.steps_propose(999999)

    assert InvestigationStep.objects.filter(incident=incident).count() == 3
