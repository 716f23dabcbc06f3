"""Which playbooks (InvestigationTemplate) fit an incident. Pure: facts in, a yes or no out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from incidents.models import Severity


@dataclass(frozen=True)
class IncidentFacts:
    severity: str
    service_id: int | None = None
    # The detection rules whose alerts opened or joined the incident.
    rule_ids: frozenset[int] = frozenset()
    labels: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlaybookFacts:
    id: int
    enabled: bool = True
    rule_ids: frozenset[int] = frozenset()
    service_ids: frozenset[int] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)
    severities: frozenset[str] = frozenset()

    @property
    def has_criteria(self) -> bool:
        return bool(self.rule_ids or self.service_ids or self.labels or self.severities)


def matches(playbook: PlaybookFacts, incident: IncidentFacts) -> bool:
    """Every criterion the playbook sets holds; a playbook that sets none matches nothing.

    Matching everything by default would put its steps on every incident the day someone
    saves a half-filled playbook.
    """
    if not playbook.enabled or not playbook.has_criteria:
        return False
    if playbook.rule_ids and not playbook.rule_ids & incident.rule_ids:
        return False
    if playbook.service_ids and incident.service_id not in playbook.service_ids:
        return False
    if playbook.severities and incident.severity not in playbook.severities:
        return False
    return all(str(incident.labels.get(key)) == value for key, value in playbook.labels.items())


def clean_match_labels(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError('Labels to match are an object of strings, e.g. {"team": "payments"}.')
    return raw


def clean_match_severities(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ValueError(f"Severities are a list of {', '.join(Severity.values)}.")
    unknown = [s for s in raw if s not in Severity.values]
    if unknown:
        raise ValueError(f"Unknown severity {unknown[0]!r}: one of {', '.join(Severity.values)}.")
    return list(dict.fromkeys(raw))
