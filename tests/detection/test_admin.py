"""The admin validates sources and rules exactly like the API, hides credentials, tests rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client

from detection.models import Alert, AlertState, DataSource, DetectionRule
from tests.detection.factories import AlertFactory, DataSourceFactory, DetectionCycleFactory, DetectionRuleFactory
from tests.factories import ServiceFactory
from tests.support.prometheus import PrometheusProcess, free_port

pytestmark = pytest.mark.django_db

SOURCE_ADD = "/admin/detection/datasource/add/"
RULE_ADD = "/admin/detection/detectionrule/add/"
RULES = "/admin/detection/detectionrule/"
TRAFFIC = "sum by (service) (rate(http_requests_total[1m]))"


def source_form(**overrides: Any) -> dict[str, Any]:
    form = {"name": "main", "kind": "prometheus", "url": "", "timeout_seconds": "5", "enabled": "on",
            "verify_tls": "on", "auth_token": "", "username": "", "password": "", "kubeconfig": "", "context": ""}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def rule_form(source: DataSource, **overrides: Any) -> dict[str, Any]:
    form = {"name": "Traffic", "description": "", "rule_type": "threshold", "source": source.pk, "service": "",
            "team": "", "query": TRAFFIC, "comparator": ">", "threshold_value": "1000", "pattern": "",
            "parameters": "{}", "for_seconds": "0", "keep_firing_for_seconds": "0",
            "evaluation_interval_seconds": "", "severity": "high", "labels": "{}", "annotations": "{}",
            "enabled": "on"}
    form.update(overrides)
    return form


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was accepted"
    return dict(response.context["adminform"].form.errors)


def row_counts() -> dict[str, int]:
    """Rows of every table (of models whose migrations exist already), to prove nothing was written."""
    tables = set(connection.introspection.table_names())
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.db_table in tables}


@pytest.fixture
def prom(prometheus: PrometheusProcess) -> DataSource:
    return DataSourceFactory(name="prom", url=prometheus.url, timeout_seconds=5)


# -- Sources -------------------------------------------------------------------------------------------


def test_a_source_that_does_not_answer_is_refused_on_url_like_in_the_api(admin_client: Client) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    errors = form_errors(admin_client.post(SOURCE_ADD, source_form(url=url)))

    assert errors["url"][0].startswith(f"Prometheus at {url} did not answer")
    assert not DataSource.objects.exists()


def test_a_prometheus_source_needs_a_url(admin_client: Client) -> None:
    errors = form_errors(admin_client.post(SOURCE_ADD, source_form()))

    assert errors["url"] == ["A Prometheus source needs a URL."]


def test_credentials_are_password_inputs_never_shown_back_and_kept_when_left_empty(
    admin_client: Client, prometheus: PrometheusProcess
) -> None:
    response = admin_client.post(SOURCE_ADD, source_form(url=prometheus.url, auth_token="tok-123456",
                                                         username="reader", password="hunter2"))
    assert response.status_code == 302, form_errors(response)
    source = DataSource.objects.get(name="main")
    change = f"/admin/detection/datasource/{source.pk}/change/"

    page = admin_client.get(change).content.decode()
    assert "tok-123456" not in page and "hunter2" not in page
    assert 'type="password" name="auth_token"' in page and 'type="password" name="password"' in page
    assert "Stored; leave empty to keep it." in page

    response = admin_client.post(change, source_form(url=prometheus.url, username="reader", timeout_seconds="7"))
    assert response.status_code == 302, form_errors(response)
    source.refresh_from_db()
    assert (source.auth_token, source.password, source.timeout_seconds) == ("tok-123456", "hunter2", 7.0)

    response = admin_client.post(change, source_form(url=prometheus.url, clear_credentials="on"))
    assert response.status_code == 302, form_errors(response)
    source.refresh_from_db()
    assert (source.auth_token, source.password) == ("", "")


def test_saving_a_source_in_the_admin_leaves_its_health_to_the_cycle(admin_client: Client) -> None:
    source = DataSourceFactory(enabled=False)
    change = f"/admin/detection/datasource/{source.pk}/change/"
    admin_client.get(change)
    # The cycle records a failure while the form is open...
    DataSource.objects.filter(pk=source.pk).update(consecutive_failures=5, last_error="down")

    response = admin_client.post(change, source_form(name=source.name, url=source.url, enabled=None))

    assert response.status_code == 302, form_errors(response)
    source.refresh_from_db()
    assert (source.consecutive_failures, source.last_error) == (5, "down")


# -- Rules -----------------------------------------------------------------------------------------------


def test_bad_promql_is_refused_on_query_quoting_prometheus(admin_client: Client, prom: DataSource) -> None:
    errors = form_errors(admin_client.post(RULE_ADD, rule_form(prom, query="sum(rate(x[5m])")))

    assert errors["query"][0].startswith("Prometheus rejected the query: ")
    assert not DetectionRule.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"threshold_value": ""}, "threshold_value"),
        ({"rule_type": "pattern", "pattern": "CrashLoopBackOff"}, "source"),
        ({"rule_type": "pattern", "pattern": "Unheard"}, "pattern"),
        ({"rule_type": "anomaly", "parameters": '{"anomaly": {"window": 1}}'}, "parameters"),
    ],
)
def test_rule_errors_appear_on_their_field(admin_client: Client, overrides: dict, field: str) -> None:
    # The source is dead: local problems must be reported before anyone asks it.
    source = DataSourceFactory(url=f"http://127.0.0.1:{free_port()}")

    errors = form_errors(admin_client.post(RULE_ADD, rule_form(source, **overrides)))

    assert field in errors, errors


def test_a_valid_rule_is_saved_normalised_with_its_services_team(admin_client: Client, prom: DataSource) -> None:
    service = ServiceFactory()

    response = admin_client.post(RULE_ADD, rule_form(prom, service=service.pk, query=f"  {TRAFFIC} "))

    assert response.status_code == 302, form_errors(response)
    rule = DetectionRule.objects.get()
    assert (rule.query, rule.team_id) == (TRAFFIC, service.team_id)


def test_editing_a_rule_keeps_the_cycles_bookkeeping(admin_client: Client, prom: DataSource) -> None:
    rule = DetectionRuleFactory(source=prom, query=TRAFFIC)
    change = f"{RULES}{rule.pk}/change/"
    admin_client.get(change)
    DetectionRule.objects.filter(pk=rule.pk).update(memory={"restarts": {"a/b/c": 3}}, last_value=4.0)

    response = admin_client.post(change, rule_form(prom, name=rule.name, severity="low"))

    assert response.status_code == 302, form_errors(response)
    rule.refresh_from_db()
    assert (rule.severity, rule.memory, rule.last_value) == ("low", {"restarts": {"a/b/c": 3}}, 4.0)


def test_test_now_messages_the_dry_run_and_saves_nothing(admin_client: Client, prom: DataSource) -> None:
    firing = DetectionRuleFactory(name="traffic", source=prom, query=TRAFFIC, threshold_value=0)
    broken = DetectionRuleFactory(name="broken", source__url=f"http://127.0.0.1:{free_port()}")
    admin_client.get(RULES)
    before = row_counts()

    response = admin_client.post(RULES, {"action": "test_now", "_selected_action": [firing.pk, broken.pk]})

    assert response.status_code == 302
    texts = {m.message.split(":")[0]: m for m in get_messages(response.wsgi_request)}
    assert "2 series, 2 breaching, would fire" in texts["traffic"].message
    assert texts["traffic"].level_tag == "warning"
    assert texts["broken"].level_tag == "error" and "unavailable" in texts["broken"].message
    assert row_counts() == before


def test_rule_list_filters_work(admin_client: Client) -> None:
    DetectionRuleFactory(severity="critical")
    for query in ("rule_type__exact=threshold", "severity__exact=critical", "enabled__exact=1", "source__id__exact=1",
                  "service__id__exact=1"):
        assert admin_client.get(f"{RULES}?{query}").status_code == 200, query


# -- Alerts and cycles: read-only --------------------------------------------------------------------


def test_alerts_and_cycles_are_listed_read_only(admin_client: Client) -> None:
    alert = AlertFactory(state=AlertState.FIRING)
    cycle = DetectionCycleFactory()

    assert admin_client.get("/admin/detection/alert/").status_code == 200
    assert admin_client.get("/admin/detection/detectioncycle/").status_code == 200
    assert admin_client.get("/admin/detection/alert/add/").status_code == 403
    assert admin_client.get("/admin/detection/detectioncycle/add/").status_code == 403
    page = admin_client.get(f"/admin/detection/alert/{alert.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    admin_client.post(f"/admin/detection/detectioncycle/{cycle.pk}/delete/", {"post": "yes"})
    assert Alert.objects.filter(pk=alert.pk).exists()
    assert type(cycle).objects.filter(pk=cycle.pk).exists()
