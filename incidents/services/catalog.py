"""Writes to the service catalog: services of a team, their telemetry labels and dependencies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from incidents.models import Service, Team
from incidents.services._common import _can_use_team
from reliability_studio.lib.errors import DomainError


def service_create(
    *,
    user: Any,
    name: str,
    slug: str,
    team: Team,
    description: str = "",
    runbook_url: str = "",
    telemetry_labels: dict | None = None,
    depends_on: Iterable[Service] = (),
) -> Service:
    """Create a service for one of the user's teams (staff: any team)."""
    if not _can_use_team(user, team.pk):
        raise DomainError("You can add services only to your own teams.", field="team")
    labels = _check_labels(telemetry_labels or {})
    with transaction.atomic():
        if Service.objects.filter(slug=slug).exists():
            raise DomainError(f"A service with slug {slug!r} already exists.", field="slug")
        service = Service.objects.create(
            name=name,
            slug=slug,
            team=team,
            description=description,
            runbook_url=runbook_url,
            telemetry_labels=labels,
        )
        depends_on = list(depends_on)
        if depends_on:
            service.depends_on.set(depends_on)
    return service


def service_update(*, service: Service, user: Any, **fields: Any) -> Service:
    """Change a service of one of the user's teams. Moving it to another team needs both teams."""
    allowed = {"name", "slug", "team", "description", "runbook_url", "telemetry_labels", "depends_on"}
    for name in fields:
        if name not in allowed:
            raise DomainError(f"{name} cannot be changed here.", field=name)
    if not _can_use_team(user, service.team_id):
        raise DomainError("You can change services only of your own teams.", field="team")
    if "team" in fields and not _can_use_team(user, fields["team"].pk):
        raise DomainError("You can move services only to your own teams.", field="team")
    if "telemetry_labels" in fields:
        fields["telemetry_labels"] = _check_labels(fields["telemetry_labels"] or {})
    depends_on = fields.pop("depends_on", None)
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if "slug" in fields and Service.objects.filter(slug=fields["slug"]).exclude(pk=locked.pk).exists():
            raise DomainError(f"A service with slug {fields['slug']!r} already exists.", field="slug")
        for name, value in fields.items():
            setattr(locked, name, value)
        if fields:
            locked.save(update_fields=list(fields))
        if depends_on is not None:
            depends_on = list(depends_on)
            service_dependencies_check(service=locked, depends_on=depends_on)
            locked.depends_on.set(depends_on)
    return locked


def service_dependencies_check(*, service: Service, depends_on: Iterable[Service]) -> None:
    """Raise DomainError(field="depends_on") if these dependencies would close a cycle."""
    # Blast-radius walks follow depends_on; a cycle would make every service depend on itself.
    frontier = {dependency.pk for dependency in depends_on}
    seen: set[int] = set()
    while frontier:
        if service.pk in frontier:
            raise DomainError("These dependencies would make the service depend on itself.", field="depends_on")
        seen |= frontier
        frontier = (
            set(
                Service.depends_on.through.objects.filter(from_service_id__in=frontier).values_list(
                    "to_service_id", flat=True
                )
            )
            - seen
        )


def _check_labels(labels: Any) -> dict[str, str]:
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise DomainError(
            'Telemetry labels are an object of strings, e.g. {"service": "checkout"}.', field="telemetry_labels"
        )
    return labels
