"""Reads that need more than one line: always scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from incidents.models import Incident, Service, Team


def teams_for_user(*, user: Any) -> QuerySet[Team]:
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(members=user)


def service_list_for_user(*, user: Any) -> QuerySet[Service]:
    if user.is_staff:
        return Service.objects.all()
    return Service.objects.filter(team__members=user)


def incident_list_for_user(*, user: Any) -> QuerySet[Incident]:
    """Staff see every incident; others only those of their teams' services."""
    if user.is_staff:
        return Incident.objects.all()
    return Incident.objects.filter(service__team__members=user)
