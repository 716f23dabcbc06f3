"""Every write to incidents, teams and services: one function per action.

Each action runs in one transaction: lock the incident row (``select_for_update``), check the
rule, save with ``update_fields``, append a TimelineEvent, and publish ``incident_created`` or
``incident_updated`` through ``realtime.events.publish``, which waits for the commit. Views,
serializers, admin and tasks of every app call these; none changes an incident's state itself.

* ``open_or_attach``: what detection calls for a firing signal.
* ``lifecycle``: declare, acknowledge, transition, update, comment, other apps' events, impact.
* ``catalog``: services of a team and their dependencies.
"""

from __future__ import annotations

from incidents.services._common import COMMENT_MAX_LENGTH, NOTE_MAX_LENGTH, TITLE_MAX_LENGTH, UPDATABLE_FIELDS
from incidents.services.catalog import service_create, service_dependencies_check, service_update
from incidents.services.lifecycle import (
    LIFECYCLE_KINDS,
    incident_acknowledge,
    incident_comment,
    incident_declare,
    incident_impact_set,
    incident_transition,
    incident_update,
    incident_update_validate,
    timeline_event_add,
)
from incidents.services.open_or_attach import (
    ATTACHED,
    DEFAULT_REOPEN_WINDOW_SECONDS,
    DEFAULT_SIGNAL_REPEAT_EVENT_SECONDS,
    OPENED,
    REOPENED,
    incident_open_or_attach,
    reopen_window,
    signal_repeat_event_interval,
)

__all__ = [
    "ATTACHED",
    "COMMENT_MAX_LENGTH",
    "DEFAULT_REOPEN_WINDOW_SECONDS",
    "DEFAULT_SIGNAL_REPEAT_EVENT_SECONDS",
    "LIFECYCLE_KINDS",
    "NOTE_MAX_LENGTH",
    "OPENED",
    "REOPENED",
    "TITLE_MAX_LENGTH",
    "UPDATABLE_FIELDS",
    "incident_acknowledge",
    "incident_comment",
    "incident_declare",
    "incident_impact_set",
    "incident_open_or_attach",
    "incident_transition",
    "incident_update",
    "incident_update_validate",
    "reopen_window",
    "service_create",
    "service_dependencies_check",
    "service_update",
    "signal_repeat_event_interval",
    "timeline_event_add",
]
