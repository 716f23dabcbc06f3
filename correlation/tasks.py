"""Thin Celery tasks for correlation; the work lives in ``correlation.services``."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from correlation import selectors, services
from correlation.models import RunTrigger


# Idempotent (a rerun upserts the same rows), so a worker lost mid-run may hand it to another.
# Source trouble never reaches here: it is each collector's recorded failure. What is retried
# is the database going away under us.
@shared_task(
    name="correlation.tasks.correlate",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def correlate(incident_id: int, trigger: str = RunTrigger.CREATED) -> None:
    services.incident_correlate(incident_id=incident_id, trigger=trigger)


@shared_task(name="correlation.tasks.refresh_open_incidents", ignore_result=True)
def refresh_open_incidents() -> int:
    """Queue a refresh of every open incident in its first CORRELATION_REFRESH_FOR_SECONDS."""
    due = selectors.incidents_due_for_correlation()
    for incident_id in due:
        correlate.delay(incident_id, RunTrigger.PERIODIC)
    return len(due)
