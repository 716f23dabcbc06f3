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
    _correlation_refresh = float(getattr(settings, "CORRELATION_REFRESH_INTERVAL_SECONDS", 120))
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
    # Open incidents are correlated again while young: evidence keeps arriving after detection.
    "correlation-refresh": {
        "task": "correlation.tasks.refresh_open_incidents",
        "schedule": _correlation_refresh,
        "options": {"expires": _correlation_refresh},
    },
}


@app.task(name="reliability_studio.ping")
def ping() -> str:
    """Round trip through the broker; used by smoke tests and worker health checks."""
    return "pong"
