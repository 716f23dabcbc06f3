"""Which playbooks match an incident (pure), and playbooks applied to incidents (services)."""

from __future__ import annotations

import pytest

from investigation import playbooks
from investigation.models import InvestigationStep, InvestigationTemplate, InvestigationTemplateStep
from investigation.playbooks import IncidentFacts, PlaybookFacts
from investigation.services import steps_propose_for
from tests.detection.factories import AlertFactory, DetectionRuleFactory
from tests.factories import IncidentFactory, ServiceFactory

INCIDENT = IncidentFacts(
    severity="high", service_id=5, rule_ids=frozenset({11}), labels={"team": "payments", "env": "prod"}
)


@pytest.mark.parametrize(
    ("playbook", "matches"),
    [
        (PlaybookFacts(id=1, rule_ids=frozenset({11, 12})), True),
        (PlaybookFacts(id=1, rule_ids=frozenset({12})), False),
        (PlaybookFacts(id=1, service_ids=frozenset({5})), True),
        (PlaybookFacts(id=1, service_ids=frozenset({6})), False),
        (PlaybookFacts(id=1, labels={"team": "payments"}), True),
        (PlaybookFacts(id=1, labels={"team": "payments", "env": "staging"}), False),
        (PlaybookFacts(id=1, labels={"region": "eu"}), False),
        (PlaybookFacts(id=1, severities=frozenset({"critical", "high"})), True),
        (PlaybookFacts(id=1, severities=frozenset({"low"})), False),
        (PlaybookFacts(id=1, service_ids=frozenset({5}), severities=frozenset({"low"})), False),  # every criterion
        (PlaybookFacts(id=1), False),  # no criterion matches nothing
        (PlaybookFacts(id=1, enabled=False, service_ids=frozenset({5})), False),
    ],
)
def test_matching(playbook, matches):
    assert playbooks.matches(playbook, INCIDENT) is matches


@pytest.mark.parametrize(
    ("raw", "ok"),
    [({"team": "x"}, True), ({}, True), ({"team": 1}, False), (["team"], False)],
)
def test_match_labels_are_strings(raw, ok):
    if ok:
        assert playbooks.clean_match_labels(raw) == raw
    else:
        with pytest.raises(ValueError):
            playbooks.clean_match_labels(raw)


def test_match_severities_are_known():
    assert playbooks.clean_match_severities(["high", "high", "low"]) == ["high", "low"]
    with pytest.raises(ValueError, match="Unknown severity 'urgent'"):
        playbooks.clean_match_severities(["urgent"])


@pytest.mark.django_db
def test_a_matching_playbooks_steps_are_added_once_to_the_incident():
    service = ServiceFactory(slug="payments")
    rule = DetectionRuleFactory(service=service)
    incident = IncidentFactory(service=service, severity="low")
    AlertFactory(rule=rule, incident=incident)
    by_rule = InvestigationTemplate.objects.create(name="Payments errors")
    by_rule.match_rules.add(rule)
    InvestigationTemplateStep.objects.create(
        template=by_rule,
        position=1,
        title="Check the PSP status page",
        action="manual",
        parameters={"instructions": "status.psp.example"},
    )
    InvestigationTemplateStep.objects.create(
        template=by_rule,
        position=2,
        title="PSP latency",
        action="check_metrics",
        parameters={"query": "psp_latency_seconds"},
        reason="PSP first",
    )
    other = InvestigationTemplate.objects.create(name="Other service", match_labels={"team": "search"})
    InvestigationTemplateStep.objects.create(template=other, title="Never", action="manual")

    created = steps_propose_for(incident=incident)

    from_playbook = [s for s in created if s.origin == "playbook"]
    assert [(s.title, s.template_id, s.reason) for s in from_playbook] == [
        ("Check the PSP status page", by_rule.pk, "From the playbook “Payments errors”."),
        ("PSP latency", by_rule.pk, "PSP first"),
    ]
    assert steps_propose_for(incident=incident) == []
    assert InvestigationStep.objects.filter(incident=incident, title="Never").count() == 0


@pytest.mark.django_db
def test_a_playbook_step_with_bad_parameters_is_skipped_not_fatal():
    service = ServiceFactory()
    incident = IncidentFactory(service=service)
    template = InvestigationTemplate.objects.create(name="Broken")
    template.match_services.add(service)
    InvestigationTemplateStep.objects.create(
        template=template, title="Bad", action="check_metrics", parameters={"nonsense": 1}
    )

    created = steps_propose_for(incident=incident)

    assert "Bad" not in [s.title for s in created]
    assert created, "the guided steps are still proposed"


@pytest.mark.django_db
def test_applying_playbooks_when_an_incident_opens_adds_only_their_steps():
    from investigation.services import playbooks_apply

    service = ServiceFactory()
    incident = IncidentFactory(service=service, severity="critical", labels={"team": "payments"})
    template = InvestigationTemplate.objects.create(name="Payments team", match_labels={"team": "payments"})
    InvestigationTemplateStep.objects.create(template=template, title="Page the PSP", action="manual")

    created = playbooks_apply(incident=incident)

    assert [(s.title, s.origin) for s in created] == [("Page the PSP", "playbook")]
    assert playbooks_apply(incident=incident) == []
