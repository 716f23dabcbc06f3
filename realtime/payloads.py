"""Everything a socket carries is built here, so live events, replays and control messages agree.

Two shapes live in this module:

* the **socket message** a client reads: ``{"type": ..., "data": {...}, "ts": "<ISO 8601>"}``;
* the **layer message** that travels through the channel layer to every consumer of a group.
  It carries the socket message already encoded as JSON (``text``), because one event reaches
  thousands of sockets and encoding it once per socket is most of the fan-out cost, plus the few
  fields a consumer needs to filter and de-duplicate without decoding it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from incidents.models import TimelineKind

LAYER_MESSAGE_TYPE = "event.message"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


# --- Domain payloads ---------------------------------------------------------------------------


def service_payload(service: Any) -> dict[str, Any] | None:
    return {"id": service.pk, "slug": service.slug, "name": service.name} if service else None


def incident_payload(incident: Any) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "service": service_payload(incident.service),
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


def timeline_event_payload(event: Any) -> dict[str, Any]:
    return {"id": event.pk, "kind": event.kind, "message": event.message, "at": _iso(event.at)}


def incident_event_payload(event: Any) -> dict[str, Any]:
    """The incident as it is now, plus the timeline entry that changed it.

    Replays send this; a live publisher that passes it too (instead of ``incident_payload``)
    lets a reconnecting client receive each timeline entry once even when it arrives both ways.
    """
    return {**incident_payload(event.incident), "event": timeline_event_payload(event)}


def event_type_for_kind(kind: str) -> str:
    return "incident_created" if kind == TimelineKind.DETECTED else "incident_updated"


def service_id_of(data: dict[str, Any]) -> int | None:
    """The service an event is about, as incident and alert payloads name it; None if unknown."""
    service = data.get("service")
    if isinstance(service, dict):
        service = service.get("id")
    return service if isinstance(service, int) and not isinstance(service, bool) else None


def timeline_event_id_of(data: dict[str, Any]) -> int | None:
    event = data.get("event")
    return event.get("id") if isinstance(event, dict) else None


# --- Socket and layer messages -----------------------------------------------------------------


def socket_message(message_type: str, data: dict[str, Any], *, ts: datetime | None = None) -> dict[str, Any]:
    return {"type": message_type, "data": data, "ts": (ts or timezone.now()).isoformat()}


def encode(message: dict[str, Any]) -> str:
    # DjangoJSONEncoder: publishers may hand us datetimes, decimals or UUIDs in ``data``.
    return json.dumps(message, cls=DjangoJSONEncoder, separators=(",", ":"))


def layer_message(message: dict[str, Any]) -> dict[str, Any]:
    data = message["data"]
    return {
        "type": LAYER_MESSAGE_TYPE,
        # A user in two teams gets one event through two groups: this id lets the socket send it once.
        "id": uuid.uuid4().hex,
        "event_type": message["type"],
        "service_id": service_id_of(data),
        "timeline_event_id": timeline_event_id_of(data),
        "text": encode(message),
    }


def replay_layer_message(event: Any) -> dict[str, Any]:
    """A missed timeline entry, shaped like a live event; its ``ts`` is when it happened."""
    message = socket_message(event_type_for_kind(event.kind), incident_event_payload(event), ts=event.at)
    return layer_message(message)


# --- Control messages --------------------------------------------------------------------------


def hello(*, user: Any, all_services: bool, teams: list[dict[str, Any]], services: list[dict[str, Any]],
          heartbeat_seconds: float, replay_limit: int, queue_size: int) -> str:
    return encode(socket_message("hello", {
        "server_time": timezone.now().isoformat(),
        "user": {"id": user.pk, "username": user.get_username(), "is_staff": user.is_staff},
        # Staff see every service; everyone else sees their teams' services only.
        "all_services": all_services,
        "teams": teams,
        "services": services,
        "heartbeat_seconds": heartbeat_seconds,
        "replay_limit": replay_limit,
        "queue_size": queue_size,
    }))


def pong(request_id: Any = None) -> str:
    return encode(socket_message("pong", {"id": request_id}))


def heartbeat() -> str:
    return encode(socket_message("heartbeat", {}))


def subscribed(*, services: list[dict[str, Any]] | None, types: list[str] | None, ignored: list[Any]) -> str:
    # None means "no narrowing": every service in scope, every event type.
    return encode(socket_message("subscribed", {"services": services, "types": types, "ignored": ignored}))


def replay_done(*, count: int, truncated: bool) -> str:
    return encode(socket_message("replay_done", {"count": count, "truncated": truncated}))


def error(code: str, detail: str) -> str:
    return encode(socket_message("error", {"code": code, "detail": detail}))
