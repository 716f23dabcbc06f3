"""What the service modules share: row locking, timeline writes, publishing, input checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from incidents.models import Incident, Service, Severity, Team, TimelineEvent
from realtime.events import publish
from realtime.payloads import incident_payload, incident_teams
from reliability_studio.lib.errors import DomainError

TITLE_MAX_LENGTH = Incident._meta.get_field("title").max_length
FINGERPRINT_MAX_LENGTH = Incident._meta.get_field("fingerprint").max_length
COMMENT_MAX_LENGTH = 10_000
NOTE_MAX_LENGTH = 10_000
UPDATABLE_FIELDS = ("title", "description", "severity", "commander", "impact_started_at")
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


def _lock(incident: Incident) -> Incident:
    # `of=self`: lock the incident only; the service row may be read by everyone meanwhile.
    return Incident.objects.select_for_update(of=("self",)).select_related("service").get(pk=incident.pk)


def _event(
    incident: Incident,
    kind: str,
    *,
    at: datetime | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    actor: Any = None,
    actor_name: str = "",
) -> TimelineEvent:
    if actor is not None and not actor_name:
        # Kept beside the foreign key so the timeline still names them if the account goes.
        actor_name = _user_label(actor)
    return TimelineEvent.objects.create(
        incident=incident,
        at=at or timezone.now(),
        kind=kind,
        actor=actor,
        actor_name=actor_name,
        message=message,
        data=data or {},
    )


def _publish(event_type: str, incident: Incident) -> None:
    publish(event_type, incident_payload(incident), teams=incident_teams(incident))


def _clear_resolution(incident: Incident) -> None:
    incident.resolved_at = None
    incident.mitigated_at = None
    incident.resolution_note = ""
    incident.false_positive = False


def _check_severity(severity: str) -> None:
    if severity not in Severity.values:
        raise DomainError(f"Unknown severity {severity!r}: one of {', '.join(Severity.values)}.", field="severity")


def _check_impact_start(value: datetime | None, *, now: datetime, resolved_at: datetime | None = None) -> None:
    if value is None:
        return
    if value > now:
        raise DomainError("Impact cannot start in the future.", field="impact_started_at")
    if resolved_at is not None and value > resolved_at:
        raise DomainError("Impact cannot start after the incident was resolved.", field="impact_started_at")


def _check_commander(commander: Any, service: Service | None) -> None:
    if commander.is_staff:
        return
    if service is None or not Team.objects.filter(pk=service.team_id, members=commander).exists():
        raise DomainError("The commander must be a member of the service's team.", field="commander")


def _can_use_team(user: Any, team_id: int) -> bool:
    return bool(user.is_staff) or Team.objects.filter(pk=team_id, members=user).exists()


def _user_label(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _duration(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
