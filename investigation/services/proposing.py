"""Guided steps and playbooks: proposed once per key, never twice."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Status, TimelineKind
from incidents.services import timeline_event_add
from investigation import actions, proposals, selectors
from investigation.models import Hypothesis, InvestigationStep, InvestigationTemplate, StepOrigin
from investigation.proposals import Proposal
from investigation.services.common import SYSTEM_ACTOR, lock_incident

logger = logging.getLogger(__name__)


def steps_propose_for(*, incident: Incident) -> list[InvestigationStep]:
    """Propose the steps the severity, the evidence and matching playbooks call for.

    Safe to call again and again (when the incident reaches investigating, after a correlation
    run): a step already proposed under the same key is not proposed twice. Resolved incidents
    get nothing. Writes one ``step_created`` event listing the new steps, if any.
    """
    with transaction.atomic():
        locked = lock_incident(incident)
        return propose_steps(locked, hypothesis=None)


def playbooks_apply(*, incident: Incident) -> list[InvestigationStep]:
    """Add the steps of the playbooks that match the incident (and nothing else), once each.

    For when an incident opens: its playbooks apply at once, while the guided steps wait for
    someone to start investigating (``steps_propose_for``).
    """
    with transaction.atomic():
        locked = lock_incident(incident)
        return propose_steps(locked, hypothesis=None, guided=False)


def propose_steps(incident: Incident, *, hypothesis: Hypothesis | None, guided: bool = True) -> list[InvestigationStep]:
    """Inside the caller's transaction, with the incident locked (which serializes proposers)."""
    if incident.status == Status.RESOLVED:
        return []
    found: list[tuple[Proposal, InvestigationTemplate | None]] = []
    if guided:
        context = selectors.proposal_context(incident=incident, hypothesis=hypothesis)
        found += [(p, None) for p in proposals.propose(context)]
    if hypothesis is None:
        found += _playbook_proposals(incident)
    # Two ways to be proposed already: the same key (proposing again), or the same action with
    # the same parameters under another key (a hypothesis's step the incident already has).
    existing = set(
        InvestigationStep.objects.filter(incident=incident)
        .exclude(proposal_key="")
        .values_list("proposal_key", flat=True)
    )
    same_work = {
        _signature(action, params)
        for action, params in InvestigationStep.objects.filter(incident=incident).values_list("action", "parameters")
    }
    now = timezone.now()
    new: list[InvestigationStep] = []
    for proposal, template in found:
        if proposal.key in existing:
            continue
        existing.add(proposal.key)
        try:
            parameters = actions.clean_parameters(proposal.action, proposal.parameters)
        except actions.ParameterError as exc:
            logger.warning("skipping proposal %s of incident %s: %s", proposal.key, incident.pk, exc.message)
            continue
        signature = _signature(proposal.action, parameters)
        if template is None and signature in same_work:
            continue
        same_work.add(signature)
        new.append(
            InvestigationStep(
                incident=incident,
                hypothesis=hypothesis,
                title=proposal.title,
                action=proposal.action,
                parameters=parameters,
                origin=StepOrigin.PLAYBOOK if template else StepOrigin.PROPOSED,
                reason=proposal.reason,
                proposal_key=proposal.key,
                template=template,
                created_at=now,
                updated_at=now,
            )
        )
    if not new:
        return []
    created = InvestigationStep.objects.bulk_create(new)
    titles = "; ".join(s.title for s in created[:5]) + ("; …" if len(created) > 5 else "")
    for_what = f" for hypothesis “{hypothesis.title}”" if hypothesis else ""
    timeline_event_add(
        incident=incident,
        kind=TimelineKind.STEP_CREATED,
        message=f"Proposed {len(created)} step{'s' if len(created) != 1 else ''}{for_what}: {titles}",
        data={
            "steps": [s.pk for s in created],
            "proposed": True,
            "hypothesis": hypothesis.pk if hypothesis else None,
            "playbooks": sorted({s.template_id for s in created if s.template_id}),
        },
        actor_name=SYSTEM_ACTOR,
    )
    return created


def _playbook_proposals(incident: Incident) -> list[tuple[Proposal, InvestigationTemplate]]:
    found = []
    for template in selectors.playbooks_matching(incident=incident):
        for step in template.steps.all():
            reason = step.reason or f"From the playbook “{template.name}”."
            found.append(
                (
                    Proposal(
                        key=f"playbook:{template.pk}:{step.pk}",
                        title=step.title,
                        action=step.action,
                        parameters=dict(step.parameters or {}),
                        reason=reason,
                    ),
                    template,
                )
            )
    return found


def _signature(action: str, parameters: dict[str, Any]) -> str:
    return f"{action}:{json.dumps(parameters, sort_keys=True)}"
