"""Writes of what operators configure: data sources and detection rules.

Callers validate first with ``detection.validation`` (the API serializers and the admin forms
both do); these functions check who may make the change and save it in one transaction. The
detection cycle's own writes (alert states, rule bookkeeping, source health) live in
``detection.services``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from detection import services
from detection.models import DataSource, DetectionRule
from incidents.models import Service, Team
from reliability_studio.lib.errors import Conflict, DomainError

RULE_FIELDS = frozenset({
    "name", "description", "rule_type", "source", "service", "team", "query", "comparator", "threshold_value",
    "pattern", "parameters", "for_seconds", "keep_firing_for_seconds", "evaluation_interval_seconds", "severity",
    "labels", "annotations", "auto_resolve", "enabled",
})
# Changing one of these changes what the rule decides: evaluate it at the next cycle.
RULE_RESCHEDULE_FIELDS = frozenset({
    "rule_type", "source", "query", "comparator", "threshold_value", "pattern", "parameters", "enabled",
    "evaluation_interval_seconds",
})
SOURCE_FIELDS = frozenset({
    "name", "kind", "url", "timeout_seconds", "enabled", "verify_tls", "auth_token", "username", "password",
    "kubeconfig", "context",
})


# --------------------------------------------------------------------------------------------
# Who may change a rule
# --------------------------------------------------------------------------------------------


def rule_team_id(rule: DetectionRule) -> int | None:
    """The team that owns ``rule``: its own, else its service's; None for rules kept by staff."""
    if rule.team_id:
        return rule.team_id
    return rule.service.team_id if rule.service_id else None


def rule_can_edit(*, user: Any, rule: DetectionRule) -> bool:
    if user.is_staff:
        return True
    team_id = rule_team_id(rule)
    return team_id is not None and Team.objects.filter(pk=team_id, members=user).exists()


def rule_access_check(*, user: Any, team: Team | None, service: Service | None,
                      rule: DetectionRule | None = None) -> None:
    """Raise unless ``user`` may own a rule for ``team``/``service`` (and may edit ``rule``).

    Staff may do anything. Others may only touch rules of their own teams, and may not create a
    rule owned by nobody: such rules watch everyone's services and are kept by staff.
    """
    if user.is_staff:
        return
    if rule is not None and not rule_can_edit(user=user, rule=rule):
        raise PermissionDenied("Only members of the rule's team (or staff) may change it.")
    mine = set(Team.objects.filter(members=user).values_list("pk", flat=True))
    if service is not None and service.team_id not in mine:
        raise DomainError("You can write rules only for your own teams' services.", field="service")
    if team is not None and team.pk not in mine:
        raise DomainError("You can assign rules only to your own teams.", field="team")
    if team is None and service is None:
        raise DomainError("Choose a team or a service of yours; rules for everyone are kept by staff.",
                          field="team")


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def rule_create(*, user: Any, **fields: Any) -> DetectionRule:
    """Save a new rule whose fields ``detection.validation.rule_validate`` has accepted.

    The team defaults to the service's team, so the rule stays editable by the people it pages.
    """
    _only(fields, RULE_FIELDS)
    service, team = fields.get("service"), fields.get("team")
    rule_access_check(user=user, team=team, service=service)
    if team is None and service is not None:
        fields["team"] = service.team
    with transaction.atomic():
        return DetectionRule.objects.create(**fields)


def rule_update(*, rule: DetectionRule, user: Any, **fields: Any) -> DetectionRule:
    """Change a validated rule; requires edit rights on the rule and on its new team/service."""
    _only(fields, RULE_FIELDS)
    rule_access_check(
        user=user,
        team=fields.get("team", rule.team),
        service=fields.get("service", rule.service),
        rule=rule,
    )
    with transaction.atomic():
        locked = DetectionRule.objects.select_for_update().get(pk=rule.pk)
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, fields[name])
        if RULE_RESCHEDULE_FIELDS.intersection(changed):
            locked.next_evaluation_at = None
            changed.append("next_evaluation_at")
        if changed:
            # Only the configuration: the cycle writes the bookkeeping fields concurrently.
            locked.save(update_fields=changed)
        if "enabled" in changed and not locked.enabled:
            services.rule_alerts_retire(rule=locked, now=timezone.now())
    return locked


def rule_delete(*, rule: DetectionRule, user: Any) -> None:
    """Delete ``rule`` and its alert states; incidents it opened stay, as history."""
    if not rule_can_edit(user=user, rule=rule):
        raise PermissionDenied("Only members of the rule's team (or staff) may delete it.")
    rule.delete()


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def source_create(*, user: Any, **fields: Any) -> DataSource:
    """Save a validated source. Staff only: a source's credentials reach every team's telemetry."""
    _require_staff(user)
    _only(fields, SOURCE_FIELDS)
    with transaction.atomic():
        if DataSource.objects.filter(name=fields.get("name")).exists():
            raise DomainError(f"A source named {fields.get('name')!r} exists already.", field="name")
        return DataSource.objects.create(**fields)


def source_update(*, source: DataSource, user: Any, **fields: Any) -> DataSource:
    _require_staff(user)
    _only(fields, SOURCE_FIELDS)
    with transaction.atomic():
        locked = DataSource.objects.select_for_update().get(pk=source.pk)
        if "name" in fields and DataSource.objects.filter(name=fields["name"]).exclude(pk=locked.pk).exists():
            raise DomainError(f"A source named {fields['name']!r} exists already.", field="name")
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        if "kind" in changed and DetectionRule.objects.filter(source=locked).exists():
            # Every rule's query is written for the old kind: PromQL does not become a label selector.
            raise DomainError("Rules use this source; a source with rules cannot change its kind.", field="kind")
        for name in changed:
            setattr(locked, name, fields[name])
        if changed:
            # Health fields belong to the cycle, which may be writing them right now.
            locked.save(update_fields=changed)
    return locked


def source_delete(*, source: DataSource, user: Any) -> None:
    """Delete a source that no rule uses; ``Conflict`` names how many rules still do."""
    _require_staff(user)
    with transaction.atomic():
        count = DetectionRule.objects.filter(source=source).count()
        if count:
            raise Conflict(f"{count} rule(s) use {source.name}; delete them or move them to another source first.")
        source.delete()


def _require_staff(user: Any) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only staff may change data sources.")


def _only(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    for name in fields:
        if name not in allowed:
            raise DomainError(f"{name} cannot be set here.", field=name)
