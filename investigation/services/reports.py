"""RCA versions: built from what exists, stored when they say something new."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, TimelineKind
from incidents.services import timeline_event_add
from investigation import rca, selectors
from investigation.models import RCAReport
from investigation.services.common import SYSTEM_ACTOR, lock_incident


def rca_generate(*, incident: Incident, user: Any, now: datetime | None = None) -> RCAReport:
    """Build the RCA from what exists and store it as the next version, with an ``rca_generated`` event.

    When nothing but the clock changed since the latest version (an ongoing incident's
    duration), that version is returned and nothing is written.
    """
    content = rca.build_rca(selectors.rca_context(incident=incident, now=now))
    with transaction.atomic():
        locked = lock_incident(incident)
        latest = RCAReport.objects.filter(incident=locked).order_by("-version").first()
        if latest is not None and rca.stable_view(latest.content) == rca.stable_view(content):
            return latest
        version = latest.version + 1 if latest else 1
        content["version"] = version
        markdown = rca.render_markdown(content)
        report = RCAReport.objects.create(
            incident=locked,
            version=version,
            content=content,
            markdown=markdown,
            created_by=user,
            created_at=now or timezone.now(),
        )
        root = content["root_cause"]
        timeline_event_add(
            incident=locked,
            kind=TimelineKind.RCA_GENERATED,
            message=f"RCA version {version}: root cause {root['status']}: {root['title']}"[:2000],
            data={
                "rca": report.pk,
                "version": version,
                "root_cause": root["status"],
                "confidence": content["confidence"]["score"],
            },
            actor=user,
            actor_name="" if user else SYSTEM_ACTOR,
        )
    return report
