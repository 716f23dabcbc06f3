"""What every investigation write shares: the lock order, the system's name, input cleaning."""

from __future__ import annotations

import math
from typing import Any

from incidents.models import Incident
from investigation.models import Hypothesis
from reliability_studio.lib.errors import DomainError

SYSTEM_ACTOR = "investigator"
TITLE_MAX_LENGTH = Hypothesis._meta.get_field("title").max_length
TEXT_MAX_LENGTH = 10_000


def lock_incident(incident: Incident) -> Incident:
    """Lock the incident first, always: one lock order for every write of the investigation."""
    return Incident.objects.select_for_update(of=("self",)).select_related("service").get(pk=incident.pk)


def clean_title(title: Any) -> str:
    title = (title or "").strip() if isinstance(title, str) or title is None else None
    if not title:
        raise DomainError("A title is required.", field="title")
    if len(title) > TITLE_MAX_LENGTH:
        raise DomainError(f"A title has at most {TITLE_MAX_LENGTH} characters.", field="title")
    return title


def clean_text(text: Any, name: str) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise DomainError(f"{name} is text.", field=name)
    if len(text) > TEXT_MAX_LENGTH:
        raise DomainError(f"{name} has at most {TEXT_MAX_LENGTH} characters.", field=name)
    return text.strip()


def clean_confidence(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise DomainError("Confidence is a number from 0.0 to 1.0.", field="confidence")
    return float(value)


def to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        return -1
    return int(value)
