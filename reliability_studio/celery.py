"""The Celery app. The beat schedule is this one dict; tasks are autodiscovered per app."""

from __future__ import annotations

import os

from celery import Celery
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliability_studio.settings")

app = Celery("reliability_studio")
try:
    app.config_from_object("django.conf:settings", namespace="CELERY")
    from django.conf import settings

    _interval = settings.DETECTION_INTERVAL_SECONDS
except ImproperlyConfigured as exc:  # one sentence, no traceback, for operators
    raise SystemExit(str(exc)) from None

app.autodiscover_tasks()

app.conf.beat_schedule = {
    "detection-cycle": {
        "task": "detection.tasks.run_cycle",
        "schedule": float(_interval),
        # A cycle that could not start in time is dropped: the next one comes soon anyway.
        "options": {"expires": float(_interval)},
    },
}


@app.task(name="reliability_studio.ping")
def ping() -> str:
    """Round trip through the broker; used by smoke tests and worker health checks."""
    return "pong"
