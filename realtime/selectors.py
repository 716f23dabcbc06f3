"""Reads for sockets: what a user may see, and the timeline entries a reconnecting client missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incidents.models import TimelineEvent
from incidents.selectors import incident_list_for_user, service_list_for_user
from realtime.payloads import replay_layer_message, service_payload

REPLAY_LIMIT = 500


@dataclass(frozen=True)
class SocketAccess:
    """What one socket may receive, fixed when it connects."""

    is_staff: bool
    team_ids: frozenset[int]
    teams: list[dict[str, Any]]
    services: list[dict[str, Any]]


def socket_access_for_user(*, user: Any) -> SocketAccess:
    teams = list(user.teams.order_by("name").values("id", "slug", "name"))
    # Staff see every service: listing them all in `hello` would only grow with the installation.
    services = [] if user.is_staff else [service_payload(s) for s in service_list_for_user(user=user)]
    return SocketAccess(
        is_staff=user.is_staff,
        team_ids=frozenset(team["id"] for team in teams),
        teams=teams,
        services=services,
    )


def services_in_scope(*, user: Any) -> list[dict[str, Any]]:
    return [service_payload(service) for service in service_list_for_user(user=user)]


@dataclass(frozen=True)
class Replay:
    messages: list[dict[str, Any]]  # layer messages, oldest first
    truncated: bool


def replay_since(*, user: Any, since: datetime, limit: int = REPLAY_LIMIT) -> Replay:
    """Timeline entries after ``since`` on incidents the user may see, oldest first, at most ``limit``."""
    events = list(
        TimelineEvent.objects.filter(at__gt=since, incident__in=incident_list_for_user(user=user))
        .select_related("incident__service")
        .order_by("at", "id")[: limit + 1]
    )
    return Replay(messages=[replay_layer_message(event) for event in events[:limit]], truncated=len(events) > limit)
