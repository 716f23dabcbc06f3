"""What people (and the system, for other apps) do to an incident once it exists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import transitions
from incidents.models import Incident, IncidentSource, Service, Status, TimelineEvent, TimelineKind
from incidents.services._common import (
    COMMENT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    UPDATABLE_FIELDS,
    _can_use_team,
    _check_commander,
    _check_impact_start,
    _check_severity,
    _clear_resolution,
    _event,
    _lock,
    _publish,
    _user_label,
)
from incidents.services.followups import incident_investigating_followups, incident_opened_followups
from reliability_studio.lib.errors import Conflict, DomainError, TransitionNotAllowed

# Written only by the lifecycle functions here, never through timeline_event_add.
LIFECYCLE_KINDS = frozenset(
    {
        TimelineKind.DETECTED,
        TimelineKind.SIGNAL_REPEATED,
        TimelineKind.REOPENED,
        TimelineKind.ACKNOWLEDGED,
        TimelineKind.STATUS_CHANGED,
        TimelineKind.UPDATED,
        TimelineKind.COMMENT,
    }
)


def incident_declare(
    *,
    title: str,
    severity: str,
    service: Service | None,
    user: Any,
    description: str = "",
    impact_started_at: datetime | None = None,
    commander: Any = None,
    labels: dict | None = None,
) -> Incident:
    """Open an incident by hand. The declarer is on it, so it starts acknowledged by them.

    Requires a service of one of the user's teams (staff may leave it empty or pick any).
    """
    title = title.strip()
    if not title:
        raise DomainError("An incident needs a title.", field="title")
    if len(title) > TITLE_MAX_LENGTH:
        raise DomainError(f"A title has at most {TITLE_MAX_LENGTH} characters.", field="title")
    _check_severity(severity)
    if service is None and not user.is_staff:
        raise DomainError("Pick the affected service, one of your teams' services.", field="service")
    if service is not None and not _can_use_team(user, service.team_id):
        raise DomainError("No such service among your teams' services.", field="service")
    now = timezone.now()
    _check_impact_start(impact_started_at, now=now)
    if commander is not None:
        _check_commander(commander, service)
    with transaction.atomic():
        incident = Incident.objects.create(
            title=title,
            description=description,
            severity=severity,
            status=Status.OPEN,
            service=service,
            fingerprint=f"manual:{uuid.uuid4().hex}",
            source=IncidentSource.MANUAL,
            labels=labels or {},
            commander=commander,
            created_by=user,
            detected_at=now,
            last_seen_at=now,
            acknowledged_at=now,
            acknowledged_by=user,
            impact_started_at=impact_started_at,
        )
        _event(incident, TimelineKind.DETECTED, at=now, message=f"Declared by hand: {title}", actor=user)
        _publish("incident_created", incident)
        incident_opened_followups(incident.pk)
    return incident


def incident_acknowledge(*, incident: Incident, user: Any) -> Incident:
    """Record that ``user`` is on it (sets MTTA). The status does not change.

    Raises Conflict if it is already acknowledged, so two people pressing at once see who won.
    """
    with transaction.atomic():
        locked = _lock(incident)
        if locked.acknowledged_at is not None:
            by = _user_label(locked.acknowledged_by) if locked.acknowledged_by_id else "someone"
            raise Conflict(f"Incident #{locked.pk} is already acknowledged by {by}.")
        now = timezone.now()
        locked.acknowledged_at, locked.acknowledged_by = now, user
        locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
        _event(locked, TimelineKind.ACKNOWLEDGED, at=now, message="Acknowledged.", actor=user)
        _publish("incident_updated", locked)
    return locked


def incident_transition(*, incident: Incident, to: str, user: Any, note: str = "", actor_name: str = "") -> Incident:
    """Move the incident along its lifecycle (see ``incidents.transitions``).

    Leaving open acknowledges it if nobody has; resolving sets ``resolved_at`` and the note as
    resolution; open → resolved marks a false positive; resolved → investigating reopens.
    ``user=None`` is the system (``actor_name``, default "system"), e.g. detection resolving
    when an alert clears: it neither acknowledges (MTTA stays a human measure) nor judges a
    false positive. Raises Conflict when the incident is already in ``to`` (a concurrent
    request won), TransitionNotAllowed naming the allowed targets, DomainError(field="note")
    for a skip without a note.
    """
    if to not in Status.values:
        raise DomainError(f"Unknown status {to!r}: one of {', '.join(Status.values)}.", field="to")
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(f"A note has at most {NOTE_MAX_LENGTH} characters.", field="note")
    with transaction.atomic():
        locked = _lock(incident)
        current = locked.status
        verdict = transitions.check(current, to)
        if verdict.same:
            raise Conflict(f"Incident #{locked.pk} is already {to}.")
        if not verdict.allowed:
            targets = transitions.allowed_targets(current)
            raise TransitionNotAllowed(
                f"An incident that is {current} can move to {' or '.join(targets)}, not to {to}.", field="to"
            )
        if verdict.needs_note and not note:
            why = "why it was a false positive" if verdict.false_positive else "why"
            raise DomainError(
                f"Going from {current} straight to {to} skips a step: say {why} in the note.", field="note"
            )

        now = timezone.now()
        fields = ["status"]
        by_person = user is not None
        false_positive = verdict.false_positive and by_person
        # No transition leads into open, so a person moving it at all is on it: leaving open, or
        # reopening one that the system resolved before anybody acknowledged it.
        acknowledged = by_person and locked.acknowledged_at is None
        if acknowledged:
            locked.acknowledged_at, locked.acknowledged_by = now, user
            fields += ["acknowledged_at", "acknowledged_by"]
        if to == Status.MITIGATED:
            locked.mitigated_at = now
            fields.append("mitigated_at")
        if to == Status.RESOLVED:
            locked.resolved_at, locked.resolution_note, locked.false_positive = now, note, false_positive
            fields += ["resolved_at", "resolution_note", "false_positive"]
        if verdict.kind is transitions.Kind.REOPEN:
            _clear_resolution(locked)
            fields += ["resolved_at", "mitigated_at", "resolution_note", "false_positive"]
        locked.status = to
        try:
            with transaction.atomic():
                locked.save(update_fields=fields)
        except IntegrityError as exc:
            holder = Incident.objects.filter(fingerprint=locked.fingerprint).exclude(status=Status.RESOLVED).first()
            if verdict.kind is not transitions.Kind.REOPEN or holder is None:
                raise
            raise Conflict(
                f"Incident #{holder.pk} is already open for the same signal; continue there instead."
            ) from exc

        kind = TimelineKind.REOPENED if verdict.kind is transitions.Kind.REOPEN else TimelineKind.STATUS_CHANGED
        message = f"{current} → {to}" + (f": {note}" if note else "")
        if false_positive:
            message += " (false positive)"
        data = {"from": current, "to": to, "note": note, "acknowledged": acknowledged}
        if false_positive:
            data["false_positive"] = True
        system_name = "" if by_person else actor_name or "system"
        _event(locked, kind, at=now, message=message, data=data, actor=user, actor_name=system_name)
        _publish("incident_updated", locked)
        if to == Status.INVESTIGATING:
            incident_investigating_followups(locked.pk)
    return locked


def incident_update(*, incident: Incident, user: Any, **fields: Any) -> Incident:
    """Change title, description, severity, commander or impact_started_at.

    Status is refused (it changes only through ``incident_transition``), as is any other field.
    Writes one ``updated`` event listing the changes; no change, no event.
    """
    with transaction.atomic():
        locked = _lock(incident)
        fields = incident_update_validate(incident=locked, **fields)
        changes: dict[str, Any] = {}
        for name, value in fields.items():
            old = getattr(locked, name)
            if _same(old, value):
                continue
            changes[name] = _change_repr(name, old, value)
            setattr(locked, name, value)
        if not changes:
            return locked
        locked.save(update_fields=list(changes))
        summary = "; ".join(_describe_change(name, change) for name, change in changes.items())
        _event(locked, TimelineKind.UPDATED, message=f"Changed {summary}.", data={"changes": changes}, actor=user)
        _publish("incident_updated", locked)
    return locked


def incident_impact_set(*, incident: Incident, impact: dict[str, Any]) -> Incident:
    """Store correlation's impact estimate (blast radius, failing share, pods affected).

    Derived data, recomputed on every correlation run: no timeline event (correlation writes
    its own ``correlation_found``), but pages are told to refresh. Never touches the status.
    """
    if not isinstance(impact, dict):
        raise DomainError("Impact is an object.", field="impact")
    with transaction.atomic():
        locked = _lock(incident)
        if locked.impact == impact:
            return locked
        locked.impact = impact
        locked.save(update_fields=["impact"])
        _publish("incident_updated", locked)
    return locked


def incident_update_validate(*, incident: Incident, **fields: Any) -> dict[str, Any]:
    """The checks of ``incident_update``, without writing: for forms that show errors per field.

    Returns the fields cleaned (titles stripped); raises DomainError naming the field.
    """
    if "status" in fields:
        raise DomainError("Status changes go through the transition endpoint, with a note when needed.", field="status")
    for name in fields:
        if name not in UPDATABLE_FIELDS:
            raise DomainError(f"{name} cannot be changed here.", field=name)
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()
        if not fields["title"]:
            raise DomainError("An incident needs a title.", field="title")
        if len(fields["title"]) > TITLE_MAX_LENGTH:
            raise DomainError(f"A title has at most {TITLE_MAX_LENGTH} characters.", field="title")
    if "severity" in fields:
        _check_severity(fields["severity"])
    if "description" in fields and fields["description"] is None:
        fields["description"] = ""
    if fields.get("commander") is not None:
        _check_commander(fields["commander"], incident.service)
    if "impact_started_at" in fields:
        _check_impact_start(fields["impact_started_at"], now=timezone.now(), resolved_at=incident.resolved_at)
    return fields


def incident_comment(*, incident: Incident, user: Any, message: str) -> TimelineEvent:
    """Append a comment to the timeline (also after resolution: notes for the review)."""
    message = (message or "").strip()
    if not message:
        raise DomainError("A comment needs some text.", field="message")
    if len(message) > COMMENT_MAX_LENGTH:
        raise DomainError(f"A comment has at most {COMMENT_MAX_LENGTH} characters.", field="message")
    with transaction.atomic():
        # Locked so that events leave in commit order and carry the incident as committed.
        locked = _lock(incident)
        event = _event(locked, TimelineKind.COMMENT, message=message, actor=user)
        _publish("incident_updated", locked)
    return event


def timeline_event_add(
    *,
    incident: Incident,
    kind: str,
    message: str = "",
    data: dict | None = None,
    actor: Any = None,
    actor_name: str = "",
    at: datetime | None = None,
) -> TimelineEvent:
    """Append an event written by another app (alert_cleared, correlation_found, hypothesis_*, ...).

    Lifecycle kinds (detected, status_changed, comment, ...) are refused: their own functions
    write them together with the state they describe.
    """
    if kind not in TimelineKind.values:
        raise DomainError(f"Unknown timeline kind {kind!r}.", field="kind")
    if kind in LIFECYCLE_KINDS:
        raise DomainError(f"{kind} events are written by the incident lifecycle itself.", field="kind")
    with transaction.atomic():
        locked = _lock(incident)
        event = _event(
            locked, kind, at=at or timezone.now(), message=message, data=data or {}, actor=actor, actor_name=actor_name
        )
        _publish("incident_updated", locked)
    return event


def _same(old: Any, new: Any) -> bool:
    if hasattr(old, "pk") or hasattr(new, "pk"):
        return getattr(old, "pk", None) == getattr(new, "pk", None)
    return old == new


def _change_repr(name: str, old: Any, new: Any) -> Any:
    if name == "description":
        return {"changed": True}  # descriptions can be long; the new text is on the incident
    return [_json_value(old), _json_value(new)]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return {"id": value.pk, "username": _user_label(value)}
    return value


def _describe_change(name: str, change: Any) -> str:
    label = name.replace("_", " ")
    if isinstance(change, list):
        old, new = (v["username"] if isinstance(v, dict) else v for v in change)
        if name in {"severity", "commander"}:
            return f"{label} from {old or 'nobody'} to {new or 'nobody'}"
    return label
