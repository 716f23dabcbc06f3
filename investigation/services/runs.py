"""Running a step: the request, the claim (a compare-and-swap), the action, the result.

The action queries telemetry outside any transaction: a slow source must not hold a lock.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from detection.clients import client_for
from detection.sources.base import SourceError
from incidents.models import Incident, Service, TimelineKind
from incidents.services import timeline_event_add
from investigation import actions, selectors, transitions
from investigation.actions.base import ActionContext, ActionFailed, ActionResult, resolve_window
from investigation.models import Hypothesis, HypothesisStatus, InvestigationStep, Relation, StepAction, StepStatus
from investigation.services.common import SYSTEM_ACTOR, lock_incident
from investigation.services.hypotheses import EvidenceInput, link_upsert
from investigation.services.steps import FINDINGS_MAX_BYTES, finished_event
from realtime.events import publish
from realtime.payloads import incident_payload, incident_teams
from reliability_studio.lib.errors import Conflict, DomainError, TransitionNotAllowed

logger = logging.getLogger(__name__)

# A step "in progress" for this long lost its worker: running it again may take it over.
STALE_RUN_AFTER = timedelta(minutes=10)
DEFAULT_RATE_WINDOW = "1m"


@dataclass(frozen=True)
class RunRequest:
    step: InvestigationStep
    task_id: str


def step_run_request(*, step: InvestigationStep, user: Any) -> RunRequest:
    """Queue a run of an automated step, once the transaction commits.

    Pending and failed steps run; one in progress is a conflict (unless its worker was lost,
    ``STALE_RUN_AFTER``); a completed step stays as it is (add a new one to look again).
    """
    if step.action == StepAction.MANUAL:
        raise DomainError(
            "A manual step is not run by the studio: record what you found with PATCH {status, findings}.",
            field="action",
        )
    with transaction.atomic():
        lock_incident(step.incident)
        locked = InvestigationStep.objects.select_for_update().get(pk=step.pk)
        if locked.status == StepStatus.IN_PROGRESS and not _stale(locked):
            raise Conflict("The step is already running; its findings arrive when it finishes.")
        if locked.status == StepStatus.COMPLETED:
            raise TransitionNotAllowed("The step is completed; add a new step to look again.", field="status")
        task_id = uuid.uuid4().hex
        locked.executed_by = user
        locked.task_id = task_id
        locked.updated_at = timezone.now()
        locked.save(update_fields=["executed_by", "task_id", "updated_at"])
        from investigation.tasks import step_run  # the tasks module imports this one

        transaction.on_commit(partial(step_run.apply_async, args=(locked.pk,), task_id=task_id))
    return RunRequest(step=locked, task_id=task_id)


def step_claim(*, step_id: int, now: datetime | None = None) -> bool:
    """Compare-and-swap: move a runnable step to in_progress; False if another run has it."""
    now = now or timezone.now()
    runnable = Q(status__in=transitions.RUNNABLE) | Q(
        status=StepStatus.IN_PROGRESS, started_at__lt=now - STALE_RUN_AFTER
    )
    claimed = (
        InvestigationStep.objects.filter(runnable, pk=step_id)
        .exclude(action=StepAction.MANUAL)
        .update(
            status=StepStatus.IN_PROGRESS,
            started_at=now,
            completed_at=None,
            findings={},
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if claimed != 1:
        return False
    incident = Incident.objects.select_related("service").filter(investigation_steps__pk=step_id).first()
    if incident is not None:
        # No timeline entry for "started": the completed or failed one follows with the duration.
        publish("incident_updated", incident_payload(incident), teams=incident_teams(incident))
    return True


def step_execute(*, step_id: int) -> InvestigationStep:
    """Run a claimed (in_progress) step's action and store what it found.

    A source that fails, or anything else that stops the action, ends the step failed with
    ``findings = {"summary": ..., "error": "<cause>"}``; nothing is raised.
    """
    step = InvestigationStep.objects.select_related("incident__service", "hypothesis").get(pk=step_id)
    if step.status != StepStatus.IN_PROGRESS:
        return step
    claimed_at = step.started_at
    source_name = ""
    try:
        context = _action_context(step)
        source_name = context.source_name
        result: ActionResult | None = actions.run(step.action, context)
        failure = None
    except SourceError as exc:
        result = None
        where = f"{source_name or 'The source'}"
        failure = {"summary": f"{where} failed: {exc.message}", "error": exc.message, "error_type": type(exc).__name__}
    except ActionFailed as exc:
        result = None
        failure = {"summary": f"The step could not run: {exc}", "error": str(exc), "error_type": "ActionFailed"}
    except Exception as exc:
        # A bug in an action must not leave the step in progress forever, nor crash the worker.
        logger.exception("investigation step %s (%s) crashed", step.pk, step.action)
        result = None
        failure = {
            "summary": "The step failed on an internal error.",
            "error": f"{type(exc).__name__}: {exc}"[:1000],
            "error_type": type(exc).__name__,
        }
    return _step_finish(step_id=step.pk, claimed_at=claimed_at, result=result, failure=failure, source=source_name)


def _step_finish(
    *,
    step_id: int,
    claimed_at: datetime | None,
    result: ActionResult | None,
    failure: dict[str, Any] | None,
    source: str,
) -> InvestigationStep:
    with transaction.atomic():
        step = InvestigationStep.objects.select_related("incident").get(pk=step_id)
        incident = lock_incident(step.incident)
        locked = InvestigationStep.objects.select_for_update().get(pk=step_id)
        if locked.status != StepStatus.IN_PROGRESS or locked.started_at != claimed_at:
            # A later run took the step over (ours was declared lost); its result wins.
            return locked
        now = timezone.now()
        if result is not None:
            locked.status = StepStatus.COMPLETED
            locked.findings = _bounded(result.findings())
        else:
            assert failure is not None
            locked.status = StepStatus.FAILED
            locked.findings = {**failure, "data": {"source": source} if source else {}}
        locked.completed_at = now
        locked.updated_at = now
        locked.save(update_fields=["status", "findings", "completed_at", "updated_at"])
        finished_event(incident, locked, actor=locked.executed_by)
        if result is not None and result.verdict in Relation.values and locked.hypothesis is not None:
            _record_test(incident, locked, result.verdict)
    return locked


def _record_test(incident: Incident, step: InvestigationStep, verdict: str) -> None:
    hypothesis = Hypothesis.objects.select_for_update().get(pk=step.hypothesis_id)
    changed = link_upsert(hypothesis, EvidenceInput(relation=verdict, step=step))
    fields = ["updated_at"]
    message = f"Step “{step.title}” {verdict} hypothesis “{hypothesis.title}”"
    if hypothesis.status == HypothesisStatus.PROPOSED:
        # Testing it is investigating it.
        hypothesis.status = HypothesisStatus.INVESTIGATING
        fields.append("status")
        message += " (now investigating)"
    elif not changed:
        return
    hypothesis.updated_at = timezone.now()
    hypothesis.save(update_fields=fields)
    timeline_event_add(
        incident=incident,
        kind=TimelineKind.HYPOTHESIS_UPDATED,
        message=message,
        data={"hypothesis": hypothesis.pk, "step": step.pk, "verdict": verdict, "status": hypothesis.status},
        actor=step.executed_by,
        actor_name="" if step.executed_by else SYSTEM_ACTOR,
    )


def _action_context(step: InvestigationStep) -> ActionContext:
    incident = step.incident
    params = dict(step.parameters or {})
    service = incident.service
    if params.get("service"):
        service = Service.objects.filter(slug=params["service"]).first()
        if service is None:
            raise ActionFailed(f"there is no service {params['service']!r} any more")
    window = resolve_window(
        params.get("window"), detected_at=incident.detected_at, resolved_at=incident.resolved_at, now=timezone.now()
    )
    kind = actions.source_kind(step.action)
    source = selectors.data_source_for(kind=kind, reference=params.get("source")) if kind else None
    if kind and source is None:
        named = f" named {params['source']!r}" if params.get("source") else " enabled"
        raise ActionFailed(f"no{named} {kind} data source is configured")

    def client() -> Any:
        try:
            return client_for(source)
        except ValueError as exc:
            raise ActionFailed(f"data source {source.name!r} is not usable: {exc}") from exc

    return ActionContext(
        incident_id=incident.pk,
        service=selectors.service_ref(service) if service else None,
        dependencies=tuple(selectors.service_ref(s) for s in selectors.dependency_chain(service)),
        window=window,
        parameters=params,
        source_name=source.name if source else "",
        source_url=source.url if source else "",
        client_factory=client if source else None,
        rate_window=getattr(settings, "INVESTIGATION_RATE_WINDOW", DEFAULT_RATE_WINDOW),
    )


def _stale(step: InvestigationStep) -> bool:
    return step.started_at is not None and step.started_at < timezone.now() - STALE_RUN_AFTER


def _bounded(findings: dict[str, Any]) -> dict[str, Any]:
    # Actions keep their excerpts small; this is the backstop for a pathological answer.
    if len(json.dumps(findings, default=str)) <= FINDINGS_MAX_BYTES:
        return findings
    return {"summary": findings.get("summary", ""), "data": {"truncated": True}}
