"""Reads of correlation: always through the incidents the user may see."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from correlation.config import correlation_config
from correlation.models import Correlation, CorrelationRun
from incidents.models import Incident, Status
from incidents.selectors import incident_list_for_user


def incident_for_user(*, user: Any, incident_id: int) -> Incident:
    """The incident if the user may see it; 404 otherwise (another team's incident does not exist)."""
    incident = incident_list_for_user(user=user).select_related("service").filter(pk=incident_id).first()
    if incident is None:
        raise Http404("No such incident.")
    return incident


def correlation_list(*, incident: Incident, include_inactive: bool = False) -> QuerySet[Correlation]:
    """Ranked, best first; findings that a later run no longer saw are left out unless asked for."""
    queryset = Correlation.objects.filter(incident=incident).select_related("service")
    if not include_inactive:
        queryset = queryset.filter(active=True)
    return queryset


def correlation_run_latest(*, incident: Incident) -> CorrelationRun | None:
    return CorrelationRun.objects.filter(incident=incident).first()


def incidents_due_for_correlation(*, now: datetime | None = None) -> list[int]:
    """Unresolved incidents still young enough to be refreshed, whose last run is an interval old.

    "An interval" is 90 % of it, so that beat's jitter does not make every other turn a skip.
    """
    config = correlation_config()
    now = now or timezone.now()
    recent = now - timedelta(seconds=config.refresh_interval.total_seconds() * 0.9)
    ran_recently = CorrelationRun.objects.filter(incident=OuterRef("pk"), started_at__gt=recent)
    return list(
        Incident.objects.exclude(status=Status.RESOLVED)
        .filter(detected_at__gte=now - config.refresh_for, detected_at__lte=now)
        .exclude(Exists(ran_recently))
        .order_by("detected_at")
        .values_list("pk", flat=True)
    )
