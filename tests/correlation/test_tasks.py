"""The thin tasks: correlate one incident; refresh the open, young ones every few minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from correlation import tasks
from correlation.models import CorrelationRun, RunStatus, RunTrigger
from correlation.selectors import incidents_due_for_correlation
from incidents.models import Status
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def test_correlate_task_runs_the_service(shop, stubs):
    incident = IncidentFactory(service=shop["checkout"])

    tasks.correlate.delay(incident.pk)

    run = CorrelationRun.objects.get()
    assert (run.incident_id, run.trigger, run.status) == (incident.pk, RunTrigger.CREATED, RunStatus.OK)


def test_correlate_task_is_idempotent_and_retries_only_database_trouble():
    assert tasks.correlate.acks_late is True
    assert tasks.correlate.max_retries == 3
    from django.db import InterfaceError, OperationalError

    assert set(tasks.correlate.autoretry_for) == {OperationalError, InterfaceError}


def test_only_open_young_incidents_not_correlated_lately_are_due(shop, stubs, settings):
    settings.CORRELATION_REFRESH_INTERVAL_SECONDS = 120
    settings.CORRELATION_REFRESH_FOR_SECONDS = 1800
    now = timezone.now()
    young = IncidentFactory(service=shop["checkout"], detected_at=now - timedelta(minutes=5))
    fresh = IncidentFactory(service=shop["checkout"], detected_at=now - timedelta(minutes=6))
    CorrelationRun.objects.create(incident=fresh, started_at=now - timedelta(seconds=30), status=RunStatus.OK,
                                  finished_at=now - timedelta(seconds=29))
    stale = IncidentFactory(service=shop["checkout"], detected_at=now - timedelta(minutes=7))
    CorrelationRun.objects.create(incident=stale, started_at=now - timedelta(seconds=125), status=RunStatus.OK,
                                  finished_at=now - timedelta(seconds=120))
    IncidentFactory(service=shop["checkout"], detected_at=now - timedelta(minutes=45))  # too old
    IncidentFactory(service=shop["checkout"], detected_at=now - timedelta(minutes=3), status=Status.RESOLVED,
                    resolved_at=now)

    assert incidents_due_for_correlation(now=now) == [stale.pk, young.pk]

    assert tasks.refresh_open_incidents.delay().get() == 2
    periodic = CorrelationRun.objects.filter(trigger=RunTrigger.PERIODIC)
    assert sorted(periodic.values_list("incident_id", flat=True)) == sorted([stale.pk, young.pk])
