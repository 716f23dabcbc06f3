"""Every write of the investigation: one function per action.

Each runs in one transaction: lock the incident (then the hypothesis or step), check the rule,
save with ``update_fields``, and append the TimelineEvent through
``incidents.services.timeline_event_add``, which publishes ``incident_updated`` once the
transaction commits. Views, the admin and tasks call these; none changes a hypothesis or a
step itself.

    hypotheses.py   hypothesis_create, hypothesis_update
    steps.py        step_create, step_update
    runs.py         step_run_request, step_claim, step_execute
    proposing.py    steps_propose_for (guided steps and playbooks), playbooks_apply
    reports.py      rca_generate
"""

from __future__ import annotations

from investigation.services.common import SYSTEM_ACTOR
from investigation.services.hypotheses import HypothesisChange, hypothesis_create, hypothesis_update
from investigation.services.proposing import playbooks_apply, steps_propose_for
from investigation.services.reports import rca_generate
from investigation.services.runs import (
    STALE_RUN_AFTER,
    RunRequest,
    step_claim,
    step_execute,
    step_run_request,
)
from investigation.services.steps import step_create, step_update

__all__ = [
    "STALE_RUN_AFTER",
    "SYSTEM_ACTOR",
    "HypothesisChange",
    "RunRequest",
    "hypothesis_create",
    "hypothesis_update",
    "playbooks_apply",
    "rca_generate",
    "step_claim",
    "step_create",
    "step_execute",
    "step_run_request",
    "step_update",
    "steps_propose_for",
]
