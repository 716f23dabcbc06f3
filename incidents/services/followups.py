"""What other apps do once an incident opens or enters investigation, scheduled after commit.

The one place where incidents reach into correlation and investigation: imports stay inside the
functions because both of those apps build on incidents' services.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction


def incident_opened_followups(incident_id: int) -> None:
    """Gather evidence and apply matching playbooks for a new or reopened incident."""
    from correlation.services import correlation_schedule
    from investigation.tasks import playbooks_apply

    correlation_schedule(incident_id)
    transaction.on_commit(partial(playbooks_apply.delay, incident_id))


def incident_investigating_followups(incident_id: int) -> None:
    """Propose investigation steps from the severity and the evidence so far."""
    from investigation.tasks import steps_propose

    transaction.on_commit(partial(steps_propose.delay, incident_id))
