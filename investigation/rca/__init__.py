"""The root-cause analysis, built from what exists, and its Markdown postmortem. Pure.

``build_rca(context)`` turns plain facts (the incident, its alerts, correlations, hypotheses,
steps, timeline and recommendations, read by ``investigation.selectors.rca_context``) into a
JSON-ready dict; ``render_markdown(rca)`` writes that dict as a postmortem document. The root
cause is the confirmed hypothesis when there is one, else the top-ranked correlation, marked
unconfirmed; the confidence says which and why.
"""

from __future__ import annotations

from investigation.rca.build import (
    MAX_TIMELINE,
    VOLATILE_IMPACT_KEYS,
    VOLATILE_KEYS,
    build_rca,
    human_duration,
    stable_view,
)
from investigation.rca.context import (
    AlertInfo,
    CorrelationInfo,
    EvidenceLink,
    HypothesisInfo,
    IncidentInfo,
    RCAContext,
    StepInfo,
    TimelineEntry,
)
from investigation.rca.markdown import render_markdown

__all__ = [
    "MAX_TIMELINE",
    "VOLATILE_IMPACT_KEYS",
    "VOLATILE_KEYS",
    "AlertInfo",
    "CorrelationInfo",
    "EvidenceLink",
    "HypothesisInfo",
    "IncidentInfo",
    "RCAContext",
    "StepInfo",
    "TimelineEntry",
    "build_rca",
    "human_duration",
    "render_markdown",
    "stable_view",
]
