"""Recommended actions: each rule as a row of a table, and the ordering."""

from __future__ import annotations

import pytest

from investigation.facts import CorrelationFact
from investigation.recommendations import (
    DependencyIncident,
    RecommendationContext,
    recommend,
)


def ctx(**fields) -> RecommendationContext:
    defaults = {"incident_id": 1, "severity": "medium", "status": "investigating", "service": "checkout"}
    return RecommendationContext(**{**defaults, **fields})


def corr(
    signal: str, kind: str = "infrastructure", service: str | None = "checkout", confidence: float = 0.8, **evidence
) -> CorrelationFact:
    return CorrelationFact(
        id=len(signal),
        kind=kind,
        signal=signal,
        title=f"the {signal} finding",
        service=service,
        confidence=confidence,
        evidence=evidence,
        key=f"{kind}:{signal}",
    )


def ids(context: RecommendationContext) -> list[str]:
    return [r.id for r in recommend(context)]


@pytest.mark.parametrize(
    ("context", "expected_id", "priority"),
    [
        (ctx(severity="critical"), "process:commander", "critical"),
        (ctx(severity="high"), "process:commander", "high"),
        (ctx(severity="critical"), "process:stakeholders", "high"),
        (ctx(severity="high"), "process:stakeholders", "medium"),
        (ctx(severity="critical"), "mitigation:consider-rollback", "high"),
        (ctx(status="open"), "process:acknowledge", "medium"),
        (ctx(status="open", severity="high"), "process:acknowledge", "high"),
        (
            ctx(
                correlations=(
                    corr("rollout", kind="change", deployment="checkout", revision=12, previous={"revision": 11}),
                )
            ),
            "mitigation:rollback:checkout:12",
            "high",
        ),
        (
            ctx(
                severity="critical", correlations=(corr("rollout", kind="change", deployment="checkout", revision=12),)
            ),
            "mitigation:rollback:checkout:12",
            "critical",
        ),
        (ctx(correlations=(corr("oom_killed"),)), "mitigation:oom_killed:checkout", "high"),
        (ctx(correlations=(corr("crash_loop"),)), "mitigation:crash_loop:checkout", "high"),
        (ctx(correlations=(corr("image_pull"),)), "mitigation:image_pull:checkout", "high"),
        (ctx(correlations=(corr("config_error"),)), "mitigation:config_error:checkout", "high"),
        (ctx(correlations=(corr("unschedulable"),)), "mitigation:unschedulable:checkout", "medium"),
        (ctx(correlations=(corr("node_pressure"),)), "mitigation:node_pressure:checkout", "medium"),
        (
            ctx(
                dependency_incidents=(
                    DependencyIncident(9, "Payments down", "payments", "critical", "open", "/incidents/9/"),
                )
            ),
            "diagnosis:dependency-incident:9",
            "high",
        ),
        (
            ctx(correlations=(corr("p95_latency", kind="metrics", service="payments"),)),
            "mitigation:protect-from:payments",
            "medium",
        ),
        (ctx(impact={"failing_share_peak": 0.3}), "mitigation:shed-load", "high"),
        (
            ctx(correlations=(corr("new_log_template", kind="logs", template="db timeout <NUM>"),)),
            "diagnosis:new-error:logs:new_log_template",
            "medium",
        ),
        (ctx(confirmed_hypotheses=((4, "Pool exhaustion"),)), "mitigation:confirmed:4", "high"),
        (ctx(runbook_url="https://runbooks.example/checkout"), "process:runbook", "medium"),
        (ctx(status="mitigated"), "process:verify-and-resolve", "medium"),
        (ctx(status="resolved"), "process:postmortem", "medium"),
    ],
)
def test_each_rule(context, expected_id, priority):
    found = {r.id: r for r in recommend(context)}
    assert expected_id in found, list(found)
    assert found[expected_id].priority == priority
    assert found[expected_id].reason


@pytest.mark.parametrize(
    ("context", "absent"),
    [
        (ctx(severity="critical", status="resolved"), "process:commander"),
        (ctx(severity="critical", status="mitigated"), "mitigation:consider-rollback"),
        (ctx(severity="low"), "process:stakeholders"),
        (
            ctx(severity="critical", correlations=(corr("rollout", kind="change", deployment="c", revision=2),)),
            "mitigation:consider-rollback",
        ),  # the specific rollback says more
        (ctx(correlations=(corr("oom_killed", confidence=0.1),)), "mitigation:oom_killed:checkout"),
        (
            ctx(correlations=(corr("p95_latency", kind="metrics", service="checkout"),)),
            "mitigation:protect-from:checkout",
        ),
        (ctx(impact={"failing_share_peak": 0.2499}), "mitigation:shed-load"),
        (
            ctx(status="resolved", correlations=(corr("rollout", kind="change", deployment="c", revision=2),)),
            "mitigation:rollback:c:2",
        ),
        (ctx(status="resolved", confirmed_hypotheses=((4, "x"),)), "mitigation:confirmed:4"),
    ],
)
def test_rules_that_do_not_apply(context, absent):
    assert absent not in ids(context)


def test_exactly_at_the_shedding_threshold_sheds():
    assert "mitigation:shed-load" in ids(ctx(impact={"failing_share": 0.25}))


def test_the_rollback_says_what_and_when_and_cites_its_evidence():
    rollout = corr(
        "rollout",
        kind="change",
        deployment="checkout",
        revision=12,
        previous={"revision": 11},
        created_at="2024-05-01T12:00:00+00:00",
        unhealthy_pods=["a", "b"],
    )
    recommendation = next(r for r in recommend(ctx(correlations=(rollout,))) if r.id.startswith("mitigation:rollback"))
    assert recommendation.title == "Roll back checkout to revision 11"
    assert recommendation.reason == (
        "the rollout finding, inside the incident window (at 2024-05-01T12:00:00+00:00); 2 of its pods are unhealthy."
    )
    assert recommendation.as_dict()["evidence"] == [{"type": "correlation", "id": rollout.id, "title": rollout.title}]


def test_recommendations_are_ordered_by_priority_and_unique():
    context = ctx(
        severity="critical",
        status="open",
        impact={"failing_share": 0.5},
        correlations=(corr("oom_killed"), corr("oom_killed")),
    )
    found = recommend(context)
    order = ["critical", "high", "medium", "low"]
    assert [order.index(r.priority) for r in found] == sorted(order.index(r.priority) for r in found)
    assert len({r.id for r in found}) == len(found)
    assert found[0].id == "process:commander"


def test_a_quiet_low_incident_gets_nothing_but_its_status_advice():
    assert ids(ctx(severity="low")) == []
    assert ids(ctx(severity="low", status="resolved")) == ["process:postmortem"]
