"""Thin Celery tasks for the investigation; the work lives in ``investigation.services``."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from incidents.models import Incident
from investigation import services


# Idempotent: the claim is a compare-and-swap, so a duplicate delivery finds the step taken and
# does nothing. Source trouble never reaches here: it ends the step failed, with its cause.
# What is retried is the database going away under us; a retry whose claim was already made
# waits for the step to go stale (services.STALE_RUN_AFTER) rather than run it twice.
@shared_task(
    name="investigation.tasks.step_run",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def step_run(step_id: int) -> None:
    if services.step_claim(step_id=step_id):
        services.step_execute(step_id=step_id)


# For other apps to call on commit without importing the investigation's services (and so
# without an import cycle through incidents.services): proposing is idempotent by key.
@shared_task(name="investigation.tasks.steps_propose", ignore_result=True)
def steps_propose(incident_id: int) -> None:
    """Guided steps and playbooks, e.g. once an incident reaches investigating."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is not None:
        services.steps_propose_for(incident=incident)


@shared_task(name="investigation.tasks.playbooks_apply", ignore_result=True)
def playbooks_apply(incident_id: int) -> None:
    """The matching playbooks' steps only, e.g. once an incident opens."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is not None:
        services.playbooks_apply(incident=incident)
