"""The investigation end to end through the API, against a real Prometheus.

Checkout's connection pool is exhausted: the exporter makes 12 % of its requests fail and all of
them slow. An operator states the hypothesis, adds a metrics step, runs it and a test of the
hypothesis against Prometheus, confirms it, reads the recommendations and generates the RCA.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from detection.models import AlertState, DetectionRule
from incidents.models import Severity, TimelineEvent
from incidents.services import incident_impact_set, incident_open_or_attach, incident_transition
from investigation.models import HypothesisEvidence, InvestigationStep, RCAReport
from tests.detection.factories import AlertFactory
from tests.investigation.conftest import prometheus_source
from tests.investigation.factories import CorrelationFactory

# Committed for real, so that on-commit effects (the task run, realtime events) happen when they would.
pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/incidents/{id}/investigation"


@pytest.fixture
def scenario(shop, prometheus, member):
    source = prometheus_source(prometheus.url)
    checkout = shop["checkout"]
    detected = timezone.now() - timedelta(minutes=2)
    # As detection and correlation would: opened by the rule's signal, impact estimated.
    incident, _ = incident_open_or_attach(
        fingerprint="checkout-errors",
        title="Checkout requests failing",
        severity=Severity.CRITICAL,
        service=checkout,
        message="Checkout error ratio > 0.05 (value 0.12)",
        at=detected,
    )
    incident_impact_set(
        incident=incident,
        impact={
            "service": "checkout",
            "blast_radius": [{"service": "checkout", "depth": 0}, {"service": "frontend", "depth": 1}],
            "failing_share": 0.12,
            "failing_share_peak": 0.12,
            "suggested_severity": "critical",
        },
    )
    rule = DetectionRule.objects.create(
        name="Checkout error ratio",
        source=source,
        service=checkout,
        query='sum(rate(http_requests_total{service="checkout",code=~"5.."}[1m])) '
        '/ sum(rate(http_requests_total{service="checkout"}[1m]))',
        comparator=">",
        threshold_value=0.05,
        severity=Severity.CRITICAL,
    )
    AlertFactory(
        rule=rule,
        source=source,
        service=checkout,
        incident=incident,
        state=AlertState.FIRING,
        value=0.12,
        active_since=detected - timedelta(seconds=42),
        fired_at=detected,
        detection_latency_seconds=42.0,
    )
    correlation = CorrelationFactory(
        incident=incident,
        kind="metrics",
        signal="error_ratio",
        service=checkout,
        key="metrics:checkout:error_ratio",
        title="checkout error ratio rose from 0 % to 12 %",
        detail="From 0.0 % before the incident to 12 % (peak 12 %).",
        confidence=0.82,
        rank=1,
        is_root_cause_candidate=True,
    )
    incident = incident_transition(incident=incident, to="investigating", user=member)
    return {"incident": incident, "correlation": correlation, "source": source}


def test_an_operator_investigates_to_a_confirmed_root_cause_and_an_rca(api, scenario, sent):
    incident = scenario["incident"]
    base = BASE.format(id=incident.pk)

    # 0. Guided steps were proposed when the incident reached investigating; proposing again adds nothing.
    listed = api.get(f"{base}/steps/").json()
    steps = listed["results"] if isinstance(listed, dict) else listed
    guided_steps = {(s["action"], s["parameters"].get("scope")) for s in steps}
    assert guided_steps >= {
        ("check_metrics", None),
        ("investigate_logs", None),
        ("check_kubernetes", None),
        ("check_metrics", "dependencies"),
    }
    assert api.post(f"{base}/steps/propose/").json()["created"] == []

    # 1. The hypothesis, with the correlation that suggests it; guided steps come with it.
    created = api.post(
        f"{base}/hypotheses/",
        {
            "title": "Database connection pool exhaustion",
            "description": "Checkout waits for database connections, then times out.",
            "confidence": 0.6,
            "evidence": [{"correlation": scenario["correlation"].pk, "relation": "supports"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    hypothesis = created.json()
    assert (hypothesis["status"], hypothesis["confidence"]) == ("proposed", 0.6)
    assert hypothesis["evidence"][0]["correlation"] == scenario["correlation"].pk
    assert hypothesis["proposed_steps"], "a hypothesis about the database proposes steps to test it"
    proposed = InvestigationStep.objects.filter(pk__in=hypothesis["proposed_steps"])
    assert {s.action for s in proposed} >= {"check_metrics", "investigate_logs"}
    assert all(s.hypothesis_id == hypothesis["id"] for s in proposed)

    # 2. The operator's own step.
    step = api.post(
        f"{base}/steps/",
        {
            "title": "Check database metrics",
            "action": "check_metrics",
            "hypothesis": hypothesis["id"],
            "parameters": {"service": "checkout", "scope": "both", "window": {"minutes": 5}, "rate_window": "10s"},
        },
        format="json",
    )
    assert step.status_code == 201, step.json()
    assert step.json()["status"] == "pending"

    # 3. Run it: a task (eager here) asks the real Prometheus.
    ran = api.post(f"{base}/steps/{step.json()['id']}/run/")
    assert ran.status_code == 202, ran.json()
    body = ran.json()
    assert body["task_id"]
    assert body["step"]["status"] == "completed", body["step"]["findings"]
    findings = body["step"]["findings"]
    assert findings["summary"].startswith("checkout: error ratio")
    checkout_errors = next(
        q for q in findings["data"]["queries"] if q["service"] == "checkout" and q["signal"] == "error_ratio"
    )
    assert 0.05 < checkout_errors["series"][0]["max"] < 0.25
    payments_errors = next(
        q for q in findings["data"]["queries"] if q["service"] == "payments" and q["signal"] == "error_ratio"
    )
    assert payments_errors["series"][0]["max"] == 0
    assert findings["data"]["links"][0].startswith(scenario["source"].url + "/graph?")

    # 4. A test of the hypothesis: checkout's error ratio above 5 % during the window.
    test = api.post(
        f"{base}/steps/",
        {
            "title": "Checkout error ratio above 5 %",
            "action": "test_hypothesis",
            "hypothesis": hypothesis["id"],
            "parameters": {
                "signal": "error_ratio",
                "service": "checkout",
                "comparator": ">",
                "threshold": 0.05,
                "window": {"minutes": 5},
                "rate_window": "10s",
            },
        },
        format="json",
    )
    assert test.status_code == 201, test.json()
    tested = api.post(f"{base}/steps/{test.json()['id']}/run/").json()["step"]
    assert tested["status"] == "completed", tested["findings"]
    assert tested["findings"]["data"]["verdict"] == "supports"
    assert tested["findings"]["summary"].startswith("Supports the hypothesis: max of error ratio of checkout was")
    link = HypothesisEvidence.objects.get(hypothesis_id=hypothesis["id"], step_id=tested["id"])
    assert link.relation == "supports"
    after_test = api.get(f"{base}/hypotheses/{hypothesis['id']}/").json()
    assert after_test["status"] == "investigating", "testing a proposed hypothesis is investigating it"

    # 5. A competing idea, then the confirmation, which lists it instead of rejecting it.
    other = api.post(f"{base}/hypotheses/", {"title": "Payments is down", "confidence": 0.2}, format="json").json()
    confirmed = api.patch(
        f"{base}/hypotheses/{hypothesis['id']}/",
        {
            "status": "confirmed",
            "confidence": 0.85,
            "conclusion": "Pool at its 20-connection limit while checkout's errors rose; payments is healthy.",
        },
        format="json",
    )
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["status"] == "confirmed"
    assert [c["id"] for c in confirmed.json()["contradicts"]] == [other["id"]]
    assert api.get(f"{base}/hypotheses/{other['id']}/").json()["status"] == "proposed"

    # 6. What to do next.
    recommended = api.get(f"{base}/recommended-actions/")
    assert recommended.status_code == 200
    actions = recommended.json()["results"]
    ids = [a["id"] for a in actions]
    assert ids[0] == "process:commander"
    assert f"mitigation:confirmed:{hypothesis['id']}" in ids
    assert "process:stakeholders" in ids
    assert all(a["reason"] for a in actions)

    # 7. The RCA, as JSON and as a postmortem; asking again without changes keeps the version.
    rca = api.get(f"{base}/rca/")
    assert rca.status_code == 200, rca.content
    analysis = rca.json()
    assert analysis["version"] == 1
    assert analysis["root_cause"]["status"] == "confirmed"
    assert analysis["root_cause"]["title"] == "Database connection pool exhaustion"
    assert analysis["detection"]["rule"] == "Checkout error ratio"
    assert analysis["detection"]["detection_latency_seconds"] == 42.0
    assert analysis["impact"]["services"] == ["checkout", "frontend"]
    assert analysis["confidence"]["level"] == "high"
    assert {e["type"] for e in analysis["evidence"]} == {"step", "correlation"}
    assert any(e["relation"] == "supports" and e["type"] == "step" for e in analysis["evidence"])
    assert analysis["action_items"]
    kinds = [entry["kind"] for entry in analysis["timeline"]]
    assert kinds[:3] == ["detected", "acknowledged", "status_changed"] or kinds[:2] == ["detected", "status_changed"]
    assert {"hypothesis_created", "step_completed", "hypothesis_updated"} <= set(kinds)

    markdown = api.get(f"{base}/rca/?format=markdown")
    assert markdown.status_code == 200
    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert text.startswith("# Postmortem: Checkout requests failing")
    for heading in (
        "## Summary",
        "## Impact",
        "## Detection",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## Evidence",
        "## Confidence",
        "## Action items",
    ):
        assert heading in text
    assert "**Confirmed:** Database connection pool exhaustion" in text
    assert RCAReport.objects.filter(incident=incident).count() == 1
    assert TimelineEvent.objects.filter(incident=incident, kind="rca_generated").count() == 1

    # Every write reached the timeline and the realtime stream.
    assert TimelineEvent.objects.filter(incident=incident, kind="step_completed").count() == 2
    assert {m["type"] for m in sent} == {"incident_updated"}
    assert len(sent) >= 8


def test_a_test_that_the_data_contradicts_refutes_the_hypothesis(api, scenario):
    incident = scenario["incident"]
    base = BASE.format(id=incident.pk)
    hypothesis = api.post(f"{base}/hypotheses/", {"title": "Payments is failing"}, format="json").json()
    test = api.post(
        f"{base}/steps/",
        {
            "title": "Payments error ratio above 5 %",
            "action": "test_hypothesis",
            "hypothesis": hypothesis["id"],
            "parameters": {
                "signal": "error_ratio",
                "service": "payments",
                "comparator": ">",
                "threshold": 0.05,
                "window": {"minutes": 5},
                "rate_window": "10s",
            },
        },
        format="json",
    ).json()

    step = api.post(f"{base}/steps/{test['id']}/run/").json()["step"]

    assert step["status"] == "completed", step["findings"]
    assert step["findings"]["data"]["verdict"] == "refutes"
    assert step["findings"]["summary"].startswith("Refutes the hypothesis: max of error ratio of payments was 0.00 %")
    after = api.get(f"{base}/hypotheses/{hypothesis['id']}/").json()
    assert [(e["step"], e["relation"]) for e in after["evidence"]] == [(test["id"], "refutes")]
    assert after["status"] == "investigating"
