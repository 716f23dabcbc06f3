"""The RCA builder and its Markdown: pure, from plain facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from investigation import rca
from investigation.rca import (
    AlertInfo,
    CorrelationInfo,
    EvidenceLink,
    HypothesisInfo,
    IncidentInfo,
    RCAContext,
    StepInfo,
    TimelineEntry,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INCIDENT = IncidentInfo(
    id=7,
    title="Checkout failing",
    severity="critical",
    status="investigating",
    detected_at=T0,
    service="checkout",
    service_name="checkout",
    team="Shop",
    source="rule",
    url="/incidents/7/",
)
ROLLOUT = CorrelationInfo(
    id=1,
    kind="change",
    title="Rollout of checkout to revision 12",
    confidence=0.9,
    rank=1,
    is_root_cause_candidate=True,
    detail="ReplicaSet checkout-abc created at 11:58.",
    link="/incidents/7/#evidence",
)
ERRORS = CorrelationInfo(
    id=2,
    kind="metrics",
    title="checkout error ratio rose to 12 %",
    confidence=0.7,
    rank=2,
    link="/incidents/7/#evidence",
)
WEAK = CorrelationInfo(id=3, kind="logs", title="a log line", confidence=0.2, rank=3)
ALERT = AlertInfo(
    rule="Checkout error ratio",
    query="error_ratio",
    comparator=">",
    threshold=0.05,
    value=0.12,
    active_since=T0 - timedelta(seconds=42),
    fired_at=T0,
    detection_latency_seconds=42.0,
)
TEST_STEP = StepInfo(
    id=5,
    title="Error ratio above 5 %",
    action="test_hypothesis",
    status="completed",
    summary="Supports the hypothesis.",
    verdict="supports",
    hypothesis_id=4,
    link="/api/incidents/7/investigation/steps/5/",
    links=("http://prom/graph?g0.expr=x",),
)
CONFIRMED = HypothesisInfo(
    id=4,
    title="Bad rollout",
    status="confirmed",
    confidence=0.8,
    concluded_at=T0,
    description="Revision 12 broke the payment client.",
    evidence=(
        EvidenceLink("supports", "Rollout of checkout to revision 12", correlation_id=1),
        EvidenceLink("supports", "Error ratio above 5 %", step_id=5),
    ),
)


def context(**fields) -> RCAContext:
    base = {
        "incident": INCIDENT,
        "now": T0 + timedelta(minutes=30),
        "alerts": (ALERT,),
        "correlations": (ROLLOUT, ERRORS, WEAK),
    }
    return RCAContext(**{**base, **fields})


def test_a_confirmed_hypothesis_is_the_root_cause():
    built = rca.build_rca(context(hypotheses=(CONFIRMED,), steps=(TEST_STEP,)))

    root = built["root_cause"]
    assert (root["status"], root["title"], root["hypothesis"], root["confidence"]) == (
        "confirmed",
        "Bad rollout",
        4,
        0.8,
    )
    # Its supporting correlation is evidence, not a contributing factor; weak ones are neither.
    assert [f["id"] for f in built["contributing_factors"]] == [2]
    assert [(e["type"], e["id"], e["relation"]) for e in built["evidence"]] == [
        ("correlation", 1, "supports"),
        ("step", 5, "supports"),
        ("correlation", 2, None),
        ("correlation", 3, None),
    ]
    assert built["confidence"] == {
        "score": 0.9,
        "level": "high",
        "explanation": "The root cause is a confirmed hypothesis, stated with 80% confidence. 2 pieces of evidence "
        "support it, including 1 passing test; 0 pieces refute it.",
    }


def test_without_a_confirmed_hypothesis_the_top_correlation_is_an_unconfirmed_root_cause():
    built = rca.build_rca(context(hypotheses=(replace(CONFIRMED, status="investigating", concluded_at=None),)))

    assert (built["root_cause"]["status"], built["root_cause"]["correlation"]) == ("unconfirmed", 1)
    assert built["confidence"]["score"] == pytest.approx(0.54)
    assert built["confidence"]["level"] == "medium"
    assert "discounted by 40%" in built["confidence"]["explanation"]
    assert (
        built["action_items"][0]["title"]
        == "Confirm or rule out the suspected cause: Rollout of checkout to revision 12"
    )
    assert "Suspected root cause (unconfirmed)" in built["summary"]


def test_a_root_cause_candidate_beats_a_better_ranked_finding():
    candidate = replace(ERRORS, is_root_cause_candidate=True)
    built = rca.build_rca(context(correlations=(replace(ROLLOUT, is_root_cause_candidate=False), candidate)))
    assert built["root_cause"]["correlation"] == 2


def test_with_nothing_the_root_cause_is_unknown():
    built = rca.build_rca(context(correlations=(), alerts=()))
    assert built["root_cause"]["status"] == "unknown"
    assert built["confidence"] == {
        "score": 0.0,
        "level": "none",
        "explanation": "Nothing points at a cause yet: no confirmed hypothesis and no correlation.",
    }
    assert built["action_items"][0]["title"] == "Find the root cause"


def test_the_most_confident_confirmed_hypothesis_wins_and_the_others_contribute():
    other = replace(CONFIRMED, id=9, title="Small pool", confidence=0.6, evidence=())
    built = rca.build_rca(context(hypotheses=(other, CONFIRMED)))
    assert built["root_cause"]["hypothesis"] == 4
    assert built["contributing_factors"][0] == {"title": "Small pool", "kind": "hypothesis", "id": 9, "confidence": 0.6}


def test_refuting_evidence_lowers_the_confidence():
    refuted = replace(CONFIRMED, evidence=(EvidenceLink("refutes", "x", correlation_id=2),))
    built = rca.build_rca(context(hypotheses=(refuted,)))
    assert built["confidence"]["score"] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("incident", "alerts", "started", "duration", "ongoing"),
    [
        (INCIDENT, (ALERT,), T0 - timedelta(seconds=42), "30 min", True),
        (replace(INCIDENT, impact_started_at=T0 - timedelta(minutes=5)), (), T0 - timedelta(minutes=5), "35 min", True),
        (replace(INCIDENT, status="resolved", resolved_at=T0 + timedelta(hours=3)), (), T0, "3 h 0 min", False),
    ],
)
def test_impact_spans_from_the_first_sign_to_the_resolution(incident, alerts, started, duration, ongoing):
    impact = rca.build_rca(context(incident=incident, alerts=alerts))["impact"]
    assert (impact["started_at"], impact["duration"], impact["ongoing"]) == (started.isoformat(), duration, ongoing)


def test_impact_lists_the_blast_radius():
    blast = {
        "blast_radius": [{"service": "checkout", "depth": 0}, {"service": "frontend", "depth": 1}],
        "failing_share_peak": 0.3,
    }
    built = rca.build_rca(context(impact=blast))
    assert built["impact"]["services"] == ["checkout", "frontend"]
    assert "Also affected: frontend. At worst 30% of requests failed." in built["summary"]


def test_detection_names_the_rule_and_its_latency():
    detection = rca.build_rca(context(incident=replace(INCIDENT, acknowledged_at=T0 + timedelta(seconds=90))))[
        "detection"
    ]
    assert detection == {
        "source": "rule",
        "rule": "Checkout error ratio",
        "query": "error_ratio",
        "condition": "> 0.05",
        "value": 0.12,
        "detected_at": T0.isoformat(),
        "detection_latency_seconds": 42.0,
        "time_to_acknowledge_seconds": 90.0,
        "alerts": 1,
    }


@pytest.mark.parametrize(
    ("incident", "alerts", "item"),
    [
        (replace(INCIDENT, source="manual"), (), "Add a detection rule for this failure"),
        (INCIDENT, (replace(ALERT, detection_latency_seconds=600.0),), "Detect this failure sooner"),
        (replace(INCIDENT, impact_started_at=T0 - timedelta(minutes=20)), (), "Detect this failure sooner"),
    ],
)
def test_slow_or_missing_detection_becomes_an_action_item(incident, alerts, item):
    titles = [i["title"] for i in rca.build_rca(context(incident=incident, alerts=alerts))["action_items"]]
    assert item in titles


def test_failed_steps_and_recommendations_become_action_items():
    failed = StepInfo(id=8, title="Read logs", action="investigate_logs", status="failed", error="Loki is down")
    recommendation = {
        "id": "x",
        "title": "Name an incident commander",
        "reason": "Nobody is.",
        "priority": "critical",
        "category": "process",
    }
    items = rca.build_rca(context(steps=(failed,), recommendations=(recommendation,)))["action_items"]
    assert items[0]["title"] == "Name an incident commander"
    assert {"title": "Re-run the failed step: Read logs", "reason": "Loki is down", "priority": "low"} in items


def test_a_resolved_incident_drops_process_advice_and_asks_to_prevent_recurrence():
    resolved = replace(INCIDENT, status="resolved", resolved_at=T0 + timedelta(hours=1))
    recommendation = {
        "id": "x",
        "title": "Update stakeholders",
        "reason": "r",
        "priority": "high",
        "category": "process",
    }
    items = rca.build_rca(context(incident=resolved, hypotheses=(CONFIRMED,), recommendations=(recommendation,)))[
        "action_items"
    ]
    assert items[0]["title"] == "Prevent a recurrence of: Bad rollout"
    assert "Update stakeholders" not in [i["title"] for i in items]


def test_the_timeline_leaves_out_rca_generations_and_is_bounded():
    entries = tuple(TimelineEntry(T0 + timedelta(seconds=i), "comment", f"note {i}", "alice") for i in range(50))
    entries += (TimelineEntry(T0, "rca_generated", "RCA version 1", "alice"),)
    timeline = rca.build_rca(context(timeline=entries))["timeline"]
    assert len(timeline) == rca.MAX_TIMELINE + 1
    assert timeline[-1]["message"] == "10 more events in the incident's timeline"
    assert "rca_generated" not in {e["kind"] for e in timeline}


def test_only_the_clock_changing_leaves_the_stable_view_equal():
    first = rca.build_rca(context())
    later = rca.build_rca(context(now=T0 + timedelta(hours=2)))
    assert first["impact"]["duration"] != later["impact"]["duration"]
    assert rca.stable_view(first) == rca.stable_view(later)
    changed = rca.build_rca(context(hypotheses=(CONFIRMED,)))
    assert rca.stable_view(first) != rca.stable_view(changed)


def test_the_markdown_postmortem_has_every_section():
    built = rca.build_rca(
        context(
            hypotheses=(CONFIRMED,),
            steps=(TEST_STEP,),
            timeline=(TimelineEntry(T0, "detected", "error | ratio > 0.05", "detector"),),
        )
    )
    built["version"] = 3

    text = rca.render_markdown(built)

    assert text.startswith("# Postmortem: Checkout failing (incident #7)\n")
    assert "_RCA version 3, generated 2024-05-01 12:30:00 UTC_" in text
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "## Summary",
        "## Impact",
        "## Detection",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## Evidence",
        "## Confidence",
        "## Action items",
    ]
    assert "| 2024-05-01 12:00:00 UTC | error \\| ratio > 0.05 | detector |" in text
    assert "- Rule: **Checkout error ratio** — `error_ratio` > 0.05" in text
    assert "**Confirmed:** Bad rollout (confidence 80%)" in text
    assert (
        "- Step [Error ratio above 5 %](/api/incidents/7/investigation/steps/5/) — **supports** the root cause" in text
    )
    assert "  - <http://prom/graph?g0.expr=x>" in text
    assert "**High (90%).**" in text
    assert text.endswith("\n")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (-5, "0 s"),
        (119, "119 s"),
        (120, "2 min"),
        (7199, "119 min"),
        (7200, "2 h 0 min"),
        (2 * 86400 - 1, "47 h 59 min"),
        (2 * 86400, "2 d 0 h"),
    ],
)
def test_human_durations(seconds, text):
    assert rca.human_duration(seconds) == text
