"""Guided steps from the severity, the evidence and a hypothesis: tables over the pure rules."""

from __future__ import annotations

import pytest

from investigation.facts import CorrelationFact
from investigation.proposals import HypothesisFact, ProposalContext, propose


def fact(
    signal: str, kind: str = "infrastructure", service: str | None = "checkout", confidence: float = 0.8, **evidence
) -> CorrelationFact:
    return CorrelationFact(
        id=hash(signal) % 1000,
        kind=kind,
        signal=signal,
        title=f"{signal} finding",
        service=service,
        confidence=confidence,
        evidence=evidence,
        key=f"{kind}:{service}:{signal}",
    )


def keys(context: ProposalContext) -> list[str]:
    return [p.key for p in propose(context)]


@pytest.mark.parametrize(
    ("severity", "dependencies", "expected"),
    [
        ("low", (), ["metrics:checkout", "logs:checkout:errors"]),
        ("medium", ("payments",), ["metrics:checkout", "logs:checkout:errors"]),
        ("high", ("payments",), ["metrics:checkout", "logs:checkout:errors", "k8s:checkout"]),
        (
            "critical",
            ("payments",),
            ["metrics:checkout", "logs:checkout:errors", "k8s:checkout", "metrics:checkout:dependencies"],
        ),
        ("critical", (), ["metrics:checkout", "logs:checkout:errors", "k8s:checkout"]),
    ],
)
def test_the_severity_sets_the_baseline(severity, dependencies, expected):
    assert keys(ProposalContext(severity=severity, service="checkout", dependencies=dependencies)) == expected


def test_an_incident_without_a_service_gets_no_baseline():
    assert propose(ProposalContext(severity="critical", service=None)) == []


@pytest.mark.parametrize(
    ("evidence", "first_action", "first_title"),
    [
        (fact("crash_loop"), "check_kubernetes", "Inspect the pods and the last rollout of checkout"),
        (fact("oom_killed"), "check_kubernetes", "Inspect the pods and the last rollout of checkout"),
        (
            fact("rollout", kind="change", deployment="checkout", revision=12),
            "check_kubernetes",
            "Review the rollout of checkout to revision 12",
        ),
        (fact("p95_latency", kind="metrics"), "check_metrics", "Check the latency of checkout's dependencies"),
        (fact("error_ratio", kind="metrics"), "investigate_logs", "Read the error logs of checkout"),
        (
            fact("new_log_template", kind="logs", template="db timeout after <NUM> ms", query='{app="checkout"}'),
            "investigate_logs",
            "Read the lines of the new log template: db timeout after <NUM> ms",
        ),
        (fact("node_pressure"), "check_kubernetes", "Inspect the pods of checkout"),
    ],
)
def test_evidence_comes_first_and_names_the_step(evidence, first_action, first_title):
    found = propose(
        ProposalContext(severity="low", service="checkout", dependencies=("payments",), evidence=(evidence,))
    )
    assert (found[0].action, found[0].title) == (first_action, first_title)
    assert evidence.title in found[0].reason


def test_crashing_pods_win_the_kubernetes_key_over_the_generic_step():
    found = propose(ProposalContext(severity="critical", service="checkout", evidence=(fact("crash_loop"),)))
    kubernetes = [p for p in found if p.key == "k8s:checkout"]
    assert len(kubernetes) == 1
    assert kubernetes[0].parameters == {"service": "checkout", "include": ["pods", "events", "rollouts"]}


def test_a_new_log_template_step_reads_that_templates_lines():
    evidence = fact("new_log_template", kind="logs", template="db timeout after <NUM> ms", query='{app="checkout"}')
    step = propose(ProposalContext(severity="low", service="checkout", evidence=(evidence,)))[0]
    assert step.parameters == {
        "service": "checkout",
        "template": "db timeout after <NUM> ms",
        "query": '{app="checkout"}',
    }
    assert step.key == "logs:checkout:template:new_log_template"


def test_weak_evidence_proposes_nothing_of_its_own():
    found = propose(ProposalContext(severity="low", service="checkout", evidence=(fact("crash_loop", confidence=0.1),)))
    assert [p.key for p in found] == ["metrics:checkout", "logs:checkout:errors"]


def test_evidence_about_a_dependency_targets_the_dependency():
    found = propose(
        ProposalContext(
            severity="low",
            service="checkout",
            dependencies=("payments",),
            evidence=(fact("crash_loop", service="payments"),),
        )
    )
    assert found[0].parameters["service"] == "payments"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Database connection pool exhaustion", ["h7:metrics:checkout:both", "h7:logs:checkout:database"]),
        ("Memory leak since the last release", ["h7:k8s:checkout", "h7:k8s:checkout:rollouts"]),
        ("Slow responses from a saturated queue", ["h7:traces:checkout", "h7:metrics:checkout:dependencies:latency"]),
        ("Exceptions in the cart handler", ["h7:logs:checkout:errors"]),
        ("Payments is down", ["h7:metrics:payments", "h7:logs:payments:errors"]),
        ("Cosmic rays", ["h7:metrics:checkout", "h7:logs:checkout:errors"]),
    ],
)
def test_a_hypothesis_proposes_the_steps_that_would_test_it(title, expected):
    context = ProposalContext(
        severity="critical",
        service="checkout",
        dependencies=("payments",),
        hypothesis=HypothesisFact(id=7, title=title),
    )
    assert keys(context) == expected


def test_a_hypothesis_gets_steps_for_the_correlations_linked_to_it():
    crash = fact("crash_loop")
    context = ProposalContext(
        severity="low",
        service="checkout",
        evidence=(crash,),
        hypothesis=HypothesisFact(id=3, title="Bad config", correlation_ids=(crash.id,)),
    )
    assert keys(context)[:2] == ["h3:k8s:checkout", "h3:logs:checkout:errors"]


def test_proposing_is_deterministic_and_keys_are_unique():
    context = ProposalContext(
        severity="critical",
        service="checkout",
        dependencies=("payments",),
        evidence=(
            fact("crash_loop"),
            fact("error_ratio", kind="metrics"),
            fact("rollout", kind="change", deployment="checkout", revision=3),
        ),
    )
    first, second = keys(context), keys(context)
    assert first == second
    assert len(first) == len(set(first))
