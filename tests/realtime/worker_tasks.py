"""A task for the cross-process test: a real Celery worker publishing as the incidents services do.

Loaded only into the worker the test starts (``celery -I tests.realtime.worker_tasks``).
"""

from __future__ import annotations

import os

from celery import shared_task

from incidents.models import Incident
from realtime.events import publish
from realtime.payloads import incident_payload, incident_teams


@shared_task(name="tests.realtime.publish_incident_updates")
def publish_incident_updates(incident_ids: list[int]) -> None:
    for incident in Incident.objects.select_related("service").filter(pk__in=incident_ids).order_by("pk"):
        # The worker's pid lets the test see which process the event came from.
        data = {**incident_payload(incident), "published_by_pid": os.getpid()}
        publish("incident_updated", data, teams=incident_teams(incident))
