"""Hypotheses: create, change (status, confidence, evidence links), and what a confirmation contradicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from correlation.models import Correlation
from incidents.models import Incident, TimelineKind
from incidents.services import timeline_event_add
from investigation import transitions
from investigation.models import Hypothesis, HypothesisEvidence, HypothesisStatus, InvestigationStep, Relation
from investigation.services.common import clean_confidence, clean_text, clean_title, lock_incident, to_int
from investigation.services.proposing import propose_steps
from reliability_studio.lib.errors import DomainError, TransitionNotAllowed

DEFAULT_CONFIDENCE = 0.5
HYPOTHESIS_FIELDS = frozenset({"title", "description", "confidence", "status", "conclusion", "evidence"})


@dataclass(frozen=True)
class EvidenceInput:
    relation: str
    correlation: Correlation | None = None
    step: InvestigationStep | None = None
    note: str = ""


@dataclass
class HypothesisChange:
    hypothesis: Hypothesis
    # Open hypotheses that a confirmation contradicts, with why: for a person to decide on.
    contradicts: list[dict[str, Any]] = field(default_factory=list)
    proposed_steps: list[InvestigationStep] = field(default_factory=list)


def hypothesis_create(
    *,
    incident: Incident,
    user: Any,
    title: str,
    description: str = "",
    confidence: float | None = None,
    evidence: Iterable[Mapping[str, Any]] = (),
) -> HypothesisChange:
    """Add a hypothesis (status proposed) and propose the steps that would test it.

    ``evidence`` items are ``{"correlation": id | "step": id, "relation": "supports" | "refutes"}``
    of this incident. Writes ``hypothesis_created`` (and ``step_created`` for the proposals).
    """
    title = clean_title(title)
    description = clean_text(description, "description")
    confidence = clean_confidence(DEFAULT_CONFIDENCE if confidence is None else confidence)
    links = _clean_evidence(incident, evidence)
    with transaction.atomic():
        locked = lock_incident(incident)
        now = timezone.now()
        hypothesis = Hypothesis.objects.create(
            incident=locked,
            title=title,
            description=description,
            confidence=confidence,
            created_by=user,
            created_at=now,
            updated_at=now,
        )
        for link in links:
            link_upsert(hypothesis, link)
        timeline_event_add(
            incident=locked,
            kind=TimelineKind.HYPOTHESIS_CREATED,
            message=f"Hypothesis: {title}",
            data={"hypothesis": hypothesis.pk, "title": title, "confidence": confidence, "evidence": len(links)},
            actor=user,
        )
        proposed = propose_steps(locked, hypothesis=hypothesis)
    return HypothesisChange(hypothesis=hypothesis, proposed_steps=proposed)


def hypothesis_update(*, hypothesis: Hypothesis, user: Any, **fields: Any) -> HypothesisChange:
    """Change title, description, confidence, status (with a conclusion) or add evidence links.

    Status follows ``transitions.HYPOTHESIS_ALLOWED``; confirmed and rejected are final unless
    reopened (back to investigating). Confirming one lists the open hypotheses it contradicts
    in the result; they are left as they are. Writes one ``hypothesis_updated`` event listing
    the changes; no change, no event.
    """
    unknown = sorted(set(fields) - HYPOTHESIS_FIELDS)
    if unknown:
        raise DomainError(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    if "title" in fields:
        fields["title"] = clean_title(fields["title"])
    for name in ("description", "conclusion"):
        if name in fields:
            fields[name] = clean_text(fields[name], name)
    if "confidence" in fields:
        fields["confidence"] = clean_confidence(fields["confidence"])
    if "status" in fields and fields["status"] not in HypothesisStatus.values:
        raise DomainError(
            f"Unknown status {fields['status']!r}: one of {', '.join(HypothesisStatus.values)}.", field="status"
        )
    links = _clean_evidence(hypothesis.incident, fields.pop("evidence", None) or ())

    with transaction.atomic():
        incident = lock_incident(hypothesis.incident)
        locked = Hypothesis.objects.select_for_update().get(pk=hypothesis.pk)
        now = timezone.now()
        changes: dict[str, Any] = {}
        target = fields.pop("status", None)
        if target is not None and target != locked.status:
            verdict = transitions.check_hypothesis(locked.status, target)
            if not verdict.allowed:
                raise TransitionNotAllowed(_hypothesis_transition_message(locked.status, target), field="status")
            changes["status"] = [locked.status, target]
            locked.status = target
            if transitions.is_concluded(target):
                locked.concluded_at = now
            else:
                locked.concluded_at = None
            changes["concluded_at"] = None  # saved alongside the status
        for name, value in fields.items():
            if getattr(locked, name) != value:
                changes[name] = [getattr(locked, name), value] if name in ("title", "confidence") else {"changed": True}
                setattr(locked, name, value)
        added = [link for link in links if link_upsert(locked, link)]
        if added:
            changes["evidence"] = [_link_repr(link) for link in added]
        if not changes:
            return HypothesisChange(hypothesis=locked)
        locked.updated_at = now
        locked.save(update_fields=[n for n in changes if n != "evidence"] + ["updated_at"])
        contradicts = _contradicted_by(locked) if changes.get("status", [None, None])[1] == "confirmed" else []
        data = {
            "hypothesis": locked.pk,
            "changes": {k: v for k, v in changes.items() if k != "concluded_at"},
            "contradicts": [c["id"] for c in contradicts],
        }
        timeline_event_add(
            incident=incident,
            kind=TimelineKind.HYPOTHESIS_UPDATED,
            message=_hypothesis_message(locked, changes, contradicts),
            data=data,
            actor=user,
        )
    return HypothesisChange(hypothesis=locked, contradicts=contradicts)


def _hypothesis_transition_message(current: str, target: str) -> str:
    allowed = transitions.hypothesis_targets(current)
    if transitions.is_concluded(current):
        return (
            f"The hypothesis is {current}, which is final: reopen it (status investigating) before marking it {target}."
        )
    if current == HypothesisStatus.PROPOSED and target == HypothesisStatus.CONFIRMED:
        return "A proposed hypothesis cannot be confirmed untested: move it to investigating first."
    return f"A {current} hypothesis can move to {' or '.join(allowed)}, not to {target}."


def _hypothesis_message(hypothesis: Hypothesis, changes: Mapping[str, Any], contradicts: list[dict[str, Any]]) -> str:
    if "status" in changes:
        old, new = changes["status"]
        message = f"Hypothesis “{hypothesis.title}”: {old} → {new}"
        if hypothesis.conclusion and new in ("confirmed", "rejected"):
            message += f": {hypothesis.conclusion.rstrip('.')}"
        if contradicts:
            names = ", ".join(f"“{c['title']}”" for c in contradicts[:3])
            message += f". Still open and contradicted: {names}"
        return message
    names = ", ".join(n.replace("_", " ") for n in changes)
    return f"Hypothesis “{hypothesis.title}”: changed {names}"


def _contradicted_by(confirmed: Hypothesis) -> list[dict[str, Any]]:
    """Open hypotheses of the same incident: competing explanations, or refuted by its support."""
    supporting = list(HypothesisEvidence.objects.filter(hypothesis=confirmed, relation=Relation.SUPPORTS))
    correlations = {link.correlation_id for link in supporting if link.correlation_id}
    steps = {link.step_id for link in supporting if link.step_id}
    others = Hypothesis.objects.filter(
        incident_id=confirmed.incident_id, status__in=transitions.OPEN_HYPOTHESIS
    ).exclude(pk=confirmed.pk)
    found = []
    for other in others.order_by("created_at", "id"):
        refuted = HypothesisEvidence.objects.filter(hypothesis=other, relation=Relation.REFUTES).filter(
            Q(correlation_id__in=correlations) | Q(step_id__in=steps)
        )
        if refuted.exists():
            reason = f"Evidence that supports “{confirmed.title}” refutes it."
        else:
            reason = (
                f"A competing explanation, still {other.status}: if “{confirmed.title}” is the cause, "
                "reject it or say how both hold."
            )
        found.append(
            {
                "id": other.pk,
                "title": other.title,
                "status": other.status,
                "confidence": other.confidence,
                "reason": reason,
            }
        )
    return found


def _clean_evidence(incident: Incident, items: Iterable[Mapping[str, Any]]) -> list[EvidenceInput]:
    items = list(items)
    if len(items) > 50:
        raise DomainError("At most 50 evidence links at once.", field="evidence")
    cleaned = []
    for item in items:
        if not isinstance(item, Mapping):
            raise DomainError('Evidence items are {"correlation": id, "relation": "supports"}.', field="evidence")
        relation = item.get("relation", Relation.SUPPORTS)
        if relation not in Relation.values:
            raise DomainError(f"A relation is one of {', '.join(Relation.values)}.", field="evidence")
        correlation_id, step_id = item.get("correlation"), item.get("step")
        if (correlation_id is None) == (step_id is None):
            raise DomainError("Each evidence item names a correlation or a step (one of them).", field="evidence")
        note = clean_text(item.get("note") or "", "evidence")
        if correlation_id is not None:
            correlation = Correlation.objects.filter(pk=to_int(correlation_id), incident=incident).first()
            if correlation is None:
                raise DomainError(f"Correlation {correlation_id} is not one of this incident's.", field="evidence")
            cleaned.append(EvidenceInput(relation=relation, correlation=correlation, note=note))
        else:
            step = InvestigationStep.objects.filter(pk=to_int(step_id), incident=incident).first()
            if step is None:
                raise DomainError(f"Step {step_id} is not one of this incident's.", field="evidence")
            cleaned.append(EvidenceInput(relation=relation, step=step, note=note))
    return cleaned


def link_upsert(hypothesis: Hypothesis, link: EvidenceInput) -> bool:
    """Create or change the link; True when something changed."""
    target = {"correlation": link.correlation} if link.correlation else {"step": link.step}
    existing = HypothesisEvidence.objects.filter(hypothesis=hypothesis, **target).first()
    if existing is None:
        HypothesisEvidence.objects.create(hypothesis=hypothesis, relation=link.relation, note=link.note, **target)
        return True
    if existing.relation == link.relation and (not link.note or existing.note == link.note):
        return False
    existing.relation = link.relation
    existing.note = link.note or existing.note
    existing.save(update_fields=["relation", "note"])
    return True


def _link_repr(link: EvidenceInput) -> dict[str, Any]:
    if link.correlation is not None:
        return {"correlation": link.correlation.pk, "relation": link.relation}
    assert link.step is not None
    return {"step": link.step.pk, "relation": link.relation}
