"""Playbooks are edited in the admin; hypotheses, steps and RCA versions are shown read-only."""

from __future__ import annotations

import pytest

from investigation.models import InvestigationTemplate
from tests.factories import ServiceFactory, UserFactory
from tests.investigation.factories import HypothesisFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _form(service_id: int, **overrides) -> dict:
    data = {
        "name": "Payments errors",
        "description": "",
        "enabled": "on",
        "match_services": [str(service_id)],
        "match_labels": "{}",
        "match_severities": '["critical", "high"]',
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "1",
        "steps-0-title": "PSP latency",
        "steps-0-action": "check_metrics",
        "steps-0-parameters": '{"query": "psp_latency_seconds"}',
        "steps-0-reason": "",
    }
    return {**data, **overrides}


def test_a_playbook_with_its_steps_is_saved_from_the_admin(admin_client):
    service = ServiceFactory()
    response = admin_client.post("/admin/investigation/investigationtemplate/add/", _form(service.pk))

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    template = InvestigationTemplate.objects.get()
    assert list(template.match_services.all()) == [service]
    assert [(s.title, s.parameters) for s in template.steps.all()] == [
        ("PSP latency", {"query": "psp_latency_seconds"})
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"match_services": [], "match_severities": "[]"}, "Say which incidents the playbook is for"),
        ({"match_severities": '["urgent"]'}, "Unknown severity &#x27;urgent&#x27;"),
        ({"steps-0-parameters": '{"querry": "x"}'}, "Unknown parameter &#x27;querry&#x27;"),
    ],
)
def test_a_bad_playbook_is_refused_with_a_reason(admin_client, overrides, message):
    service = ServiceFactory()
    response = admin_client.post("/admin/investigation/investigationtemplate/add/", _form(service.pk, **overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not InvestigationTemplate.objects.exists()


def test_investigation_records_are_listed_read_only(admin_client):
    step = StepFactory()
    HypothesisFactory(incident=step.incident)
    for name in ("hypothesis", "investigationstep", "rcareport"):
        assert admin_client.get(f"/admin/investigation/{name}/").status_code == 200
    assert admin_client.get("/admin/investigation/investigationstep/add/").status_code == 403
