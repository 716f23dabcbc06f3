"""Event payloads, built in one place so live events and replays look the same."""

from __future__ import annotations

from typing import Any


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def incident_payload(incident: Any) -> dict[str, Any]:
    service = incident.service
    return {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "service": {"id": service.pk, "slug": service.slug, "name": service.name} if service else None,
        "fingerprint": incident.fingerprint,
        "signal_count": incident.signal_count,
        "detected_at": _iso(incident.detected_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "mitigated_at": _iso(incident.mitigated_at),
        "resolved_at": _iso(incident.resolved_at),
        "last_seen_at": _iso(incident.last_seen_at),
        "url": incident.get_absolute_url(),
    }


def incident_teams(incident: Any) -> list[int]:
    return [incident.service.team_id] if incident.service_id else []
