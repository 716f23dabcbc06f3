"""Steps: create, change, and a manual step's result; the timeline entry of a finished step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Service, TimelineKind
from incidents.services import timeline_event_add
from investigation import actions, selectors, transitions
from investigation.models import Hypothesis, InvestigationStep, StepAction, StepOrigin, StepStatus
from investigation.services.common import SYSTEM_ACTOR, clean_title, lock_incident, to_int
from reliability_studio.lib.errors import DomainError, TransitionNotAllowed

FINDINGS_MAX_BYTES = 64_000
STEP_FIELDS = frozenset({"title", "parameters", "hypothesis", "status", "findings"})
# incidents.TimelineKind has no "step_updated" yet (asked for); until then an edit is logged as
# a step_created event whose data says {"updated": true}.
STEP_UPDATED_KIND = getattr(TimelineKind, "STEP_UPDATED", TimelineKind.STEP_CREATED)


def step_create(
    *,
    incident: Incident,
    user: Any,
    title: str,
    action: str,
    parameters: Mapping[str, Any] | None = None,
    hypothesis: Hypothesis | int | None = None,
) -> InvestigationStep:
    """Add a step (pending). Its parameters are checked for its action now, not when it runs."""
    title = clean_title(title)
    if action not in StepAction.values:
        raise DomainError(f"Unknown action {action!r}: one of {', '.join(StepAction.values)}.", field="action")
    parameters = clean_parameters(action, parameters)
    hypothesis = hypothesis_of(incident, hypothesis)
    with transaction.atomic():
        locked = lock_incident(incident)
        now = timezone.now()
        step = InvestigationStep.objects.create(
            incident=locked,
            hypothesis=hypothesis,
            title=title,
            action=action,
            parameters=parameters,
            origin=StepOrigin.MANUAL,
            created_by=user,
            created_at=now,
            updated_at=now,
        )
        timeline_event_add(
            incident=locked,
            kind=TimelineKind.STEP_CREATED,
            message=f"Step: {title} ({action})",
            data={"step": step.pk, "action": action, "hypothesis": hypothesis.pk if hypothesis else None},
            actor=user,
        )
    return step


def step_update(*, step: InvestigationStep, user: Any, **fields: Any) -> InvestigationStep:
    """Change a step's title, parameters or hypothesis; for a manual step, its status and findings.

    Parameters change only while the step is pending or failed. An automated step's status and
    findings come from running it. A manual step moves pending → in_progress → completed |
    failed (or straight to completed | failed, recorded after the fact) and needs
    ``findings.summary`` to finish. Writes ``step_completed`` / ``step_failed`` when it finishes.
    """
    unknown = sorted(set(fields) - STEP_FIELDS)
    if unknown:
        raise DomainError(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    manual = step.action == StepAction.MANUAL
    if "title" in fields:
        fields["title"] = clean_title(fields["title"])
    if "parameters" in fields:
        fields["parameters"] = clean_parameters(step.action, fields["parameters"])
    if "hypothesis" in fields:
        fields["hypothesis"] = hypothesis_of(step.incident, fields["hypothesis"])
    if "status" in fields:
        if not manual:
            raise DomainError(
                "An automated step's status changes when it runs: POST to its run/ endpoint.", field="status"
            )
        if fields["status"] not in StepStatus.values:
            raise DomainError(
                f"Unknown status {fields['status']!r}: one of {', '.join(StepStatus.values)}.", field="status"
            )
    if "findings" in fields:
        if not manual:
            raise DomainError("An automated step's findings come from running it.", field="findings")
        fields["findings"] = clean_findings(fields["findings"])

    with transaction.atomic():
        incident = lock_incident(step.incident)
        locked = InvestigationStep.objects.select_for_update().get(pk=step.pk)
        now = timezone.now()
        changed: list[str] = []
        if (
            "parameters" in fields
            and locked.status not in transitions.RUNNABLE
            and fields["parameters"] != locked.parameters
        ):
            raise DomainError(f"The step is {locked.status}: its parameters can no longer change.", field="parameters")
        target = fields.pop("status", None)
        if (
            "findings" in fields
            and target is None
            and locked.status not in transitions.RUNNABLE | {StepStatus.IN_PROGRESS}
        ):
            raise DomainError("The step is finished: its findings can no longer change.", field="findings")
        if target is not None and target != locked.status:
            verdict = transitions.check_step(locked.status, target, manual=True)
            if not verdict.allowed:
                allowed = transitions.step_targets(locked.status, manual=True)
                hint = f"to {' or '.join(allowed)}" if allowed else "nowhere: it is final"
                raise TransitionNotAllowed(f"A {locked.status} step can move {hint}, not to {target}.", field="status")
            finding = fields.get("findings", locked.findings) or {}
            if transitions.is_finished(target) and not str(finding.get("summary") or "").strip():
                raise DomainError(
                    "Say what you found: findings.summary is required to finish a step.", field="findings"
                )
            locked.status = target
            changed.append("status")
            if target == StepStatus.IN_PROGRESS or locked.started_at is None:
                locked.started_at = now
                changed.append("started_at")
            locked.completed_at = now if transitions.is_finished(target) else None
            changed.append("completed_at")
            locked.executed_by = user
            changed.append("executed_by")
        for name, value in fields.items():
            current = locked.hypothesis if name == "hypothesis" else getattr(locked, name)
            if current != value:
                setattr(locked, name, value)
                changed.append(name)
        if not changed:
            return locked
        locked.updated_at = now
        locked.save(update_fields=list(dict.fromkeys(changed)) + ["updated_at"])
        if "status" in changed and transitions.is_finished(locked.status):
            finished_event(incident, locked, actor=user)
        else:
            names = ", ".join(
                n.replace("_", " ")
                for n in dict.fromkeys(changed)
                if n not in ("started_at", "completed_at", "executed_by")
            )
            timeline_event_add(
                incident=incident,
                kind=STEP_UPDATED_KIND,
                message=f"Step “{locked.title}”: changed {names}",
                data={"step": locked.pk, "updated": True, "fields": changed, "status": locked.status},
                actor=user,
            )
    return locked


def finished_event(incident: Incident, step: InvestigationStep, *, actor: Any) -> None:
    completed = step.status == StepStatus.COMPLETED
    summary = str(step.findings.get("summary") or "")
    data: dict[str, Any] = {
        "step": step.pk,
        "action": step.action,
        "status": step.status,
        "summary": summary[:500],
        "duration_seconds": step.duration_seconds,
    }
    if not completed:
        data["error"] = str(step.findings.get("error") or "")[:500]
    verdict = (step.findings.get("data") or {}).get("verdict") if isinstance(step.findings.get("data"), dict) else None
    if verdict:
        data["verdict"] = verdict
    timeline_event_add(
        incident=incident,
        kind=TimelineKind.STEP_COMPLETED if completed else TimelineKind.STEP_FAILED,
        message=f"Step “{step.title}” {'completed' if completed else 'failed'}: {summary}"[:2000],
        data=data,
        actor=actor,
        actor_name="" if actor else SYSTEM_ACTOR,
    )


def clean_parameters(action: str, parameters: Any) -> dict[str, Any]:
    try:
        cleaned = actions.clean_parameters(action, parameters)
    except actions.ParameterError as exc:
        prefix = "" if exc.key == "parameters" else f"{exc.key}: "
        raise DomainError(f"{prefix}{exc.message}", field="parameters") from None
    kind = actions.source_kind(action)
    if "source" in cleaned and kind and selectors.data_source_for(kind=kind, reference=cleaned["source"]) is None:
        raise DomainError(f"source: there is no {kind} data source {cleaned['source']!r}.", field="parameters")
    if "service" in cleaned and not Service.objects.filter(slug=cleaned["service"]).exists():
        raise DomainError(f"service: there is no service {cleaned['service']!r}.", field="parameters")
    return cleaned


def clean_findings(findings: Any) -> dict[str, Any]:
    if not isinstance(findings, Mapping) or set(findings) - {"summary", "data"}:
        raise DomainError('Findings are {"summary": "what you found", "data": {...}}.', field="findings")
    summary = findings.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise DomainError("findings.summary is text.", field="findings")
    cleaned = {"summary": (summary or "").strip(), "data": findings.get("data") or {}}
    if len(json.dumps(cleaned, default=str)) > FINDINGS_MAX_BYTES:
        raise DomainError(f"Findings take at most {FINDINGS_MAX_BYTES} bytes.", field="findings")
    return cleaned


def hypothesis_of(incident: Incident, hypothesis: Hypothesis | int | None) -> Hypothesis | None:
    if hypothesis is None:
        return None
    pk = hypothesis.pk if isinstance(hypothesis, Hypothesis) else to_int(hypothesis)
    found = Hypothesis.objects.filter(pk=pk, incident_id=incident.pk).first()
    if found is None:
        raise DomainError(f"Hypothesis {pk} is not one of this incident's.", field="hypothesis")
    return found
