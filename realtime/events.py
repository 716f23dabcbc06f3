"""The one way events leave the app: ``publish(event_type, data, teams=...)``, after commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from realtime.groups import groups_for_teams

EVENT_TYPES = frozenset({"incident_created", "incident_updated", "correlation_found", "alert"})


def build_message(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown realtime event type {event_type!r}")
    return {"type": event_type, "data": data, "ts": timezone.now().isoformat()}


def publish(event_type: str, data: dict[str, Any], *, teams: Iterable[int]) -> None:
    """Send ``data`` to the given teams' sockets (and staff) once the current transaction commits.

    A rolled-back transaction sends nothing; outside a transaction it sends at once.
    """
    message = build_message(event_type, data)
    groups = groups_for_teams(teams)
    transaction.on_commit(lambda: _send(groups, message))


def _send(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        async_to_sync(layer.group_send)(group, {"type": "event.message", "message": message})
