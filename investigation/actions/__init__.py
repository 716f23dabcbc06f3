"""Step actions, one module per kind: what each may be given, which source it asks, how it runs.

``ACTIONS`` maps a step's ``action`` to its module; ``manual`` has none: a person does it and
records what they found.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from investigation.actions import hypothesis_test, kubernetes, logs, metrics, traces
from investigation.actions.base import (
    ActionContext,
    ActionFailed,
    ActionResult,
    ParameterError,
    clean_common,
)
from investigation.models import StepAction

ACTIONS: dict[str, ModuleType] = {
    StepAction.INVESTIGATE_LOGS: logs,
    StepAction.CHECK_METRICS: metrics,
    StepAction.CHECK_KUBERNETES: kubernetes,
    StepAction.CHECK_TRACES: traces,
    StepAction.TEST_HYPOTHESIS: hypothesis_test,
}
MANUAL_KEYS = frozenset({"instructions"})


def clean_parameters(action: str, raw: Any) -> dict[str, Any]:
    """The parameters checked for ``action``; ``ParameterError`` names the offending key."""
    module = ACTIONS.get(action)
    if module is None:
        params = clean_common(raw, allowed=MANUAL_KEYS)
        if "instructions" in params and not isinstance(params["instructions"], str):
            raise ParameterError("instructions", "instructions are text for the person doing the step.")
        return params
    return module.clean(raw)


def source_kind(action: str) -> str | None:
    module = ACTIONS.get(action)
    return module.SOURCE_KIND if module else None


def run(action: str, context: ActionContext) -> ActionResult:
    return ACTIONS[action].run(context)


__all__ = [
    "ACTIONS",
    "ActionContext",
    "ActionFailed",
    "ActionResult",
    "ParameterError",
    "clean_parameters",
    "run",
    "source_kind",
]
