"""Pure rules for what one socket wants: the subscribe request, the filter, and ``?since=``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from realtime.events import EVENT_TYPES

# Bounded so one request cannot make the server resolve an unbounded list.
MAX_SUBSCRIBED_SERVICES = 500


class BadRequest(ValueError):
    """A client message the socket answers with an ``error`` message; the socket stays open."""


@dataclass(frozen=True)
class Subscription:
    # None: no narrowing. The groups a socket joined already bound it to the user's scope, so a
    # subscription can only narrow what arrives, never widen it.
    service_ids: frozenset[int] | None = None
    types: frozenset[str] | None = None

    def allows(self, event_type: str, service_id: int | None) -> bool:
        if self.types is not None and event_type not in self.types:
            return False
        return self.service_ids is None or service_id in self.service_ids


@dataclass(frozen=True)
class SubscribeRequest:
    services: tuple[int | str, ...] | None  # ids or slugs, as the client wrote them
    types: frozenset[str] | None


def parse_subscribe(content: dict[str, Any]) -> SubscribeRequest:
    """Validate ``{"action": "subscribe", "services": [...], "types": [...]}``; absent means all."""
    services = content.get("services")
    if services is not None:
        if not isinstance(services, list) or not all(_is_service_ref(ref) for ref in services):
            raise BadRequest("services must be a list of service slugs or ids")
        if len(services) > MAX_SUBSCRIBED_SERVICES:
            raise BadRequest(f"at most {MAX_SUBSCRIBED_SERVICES} services per subscription")
    types = content.get("types")
    if types is not None:
        if not isinstance(types, list) or not all(isinstance(name, str) for name in types):
            raise BadRequest("types must be a list of event type names")
        unknown = sorted(set(types) - EVENT_TYPES)
        if unknown:
            raise BadRequest(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}")
    return SubscribeRequest(
        services=None if services is None else tuple(services),
        types=None if types is None else frozenset(types),
    )


def _is_service_ref(ref: Any) -> bool:
    return (isinstance(ref, int) and not isinstance(ref, bool)) or (isinstance(ref, str) and bool(ref))


def resolve_services(
    requested: tuple[int | str, ...], in_scope: list[dict[str, Any]]
) -> tuple[frozenset[int], list[dict[str, Any]], list[int | str]]:
    """Match ids and slugs against the services the user may see.

    Returns (ids, the matched services, the references ignored because they are unknown or out
    of scope). Ignoring rather than failing keeps one stale bookmark from breaking a dashboard.
    """
    by_id = {service["id"]: service for service in in_scope}
    by_slug = {service["slug"]: service for service in in_scope}
    matched: dict[int, dict[str, Any]] = {}
    ignored: list[int | str] = []
    for ref in requested:
        service = by_id.get(ref) if isinstance(ref, int) else by_slug.get(ref)
        if service is None:
            ignored.append(ref)
        else:
            matched[service["id"]] = service
    return frozenset(matched), list(matched.values()), ignored


def parse_since(raw: str) -> datetime:
    """An ISO 8601 instant; naive means UTC.

    An unencoded ``+`` in a query string arrives as a space ("...T10:00:00 00:00"), so when the
    text does not parse as written, a last space is read back as the ``+`` the client meant.
    """
    text = raw.strip()
    candidates = [text]
    if " " in text:
        head, _, tail = text.rpartition(" ")
        candidates.append(f"{head}+{tail}")
    for candidate in candidates:
        try:
            value = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise BadRequest(f"since must be an ISO 8601 timestamp, not {raw!r}")
