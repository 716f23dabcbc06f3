"""The detection API: rules (CRUD, dry-run test), sources, alerts and status, with team scoping.

Rule queries are validated by a real Prometheus (one per module, from tests/detection/conftest.py).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.utils import timezone

from detection.evaluators import fingerprint
from detection.models import Alert, AlertKind, AlertState, DataSource, DetectionRule
from tests.detection.factories import AlertFactory, DataSourceFactory, DetectionCycleFactory, DetectionRuleFactory
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.support.prometheus import PrometheusProcess, free_port

pytestmark = pytest.mark.django_db

RULES = "/api/detection/rules/"
SOURCES = "/api/detection/sources/"
ALERTS = "/api/detection/alerts/"
STATUS = "/api/detection/status/"
TRAFFIC = "sum by (service) (rate(http_requests_total[1m]))"
RULE_KEYS = {
    "id", "name", "description", "rule_type", "source", "service", "query", "comparator", "threshold_value",
    "for_seconds", "keep_firing_for_seconds", "severity", "labels", "annotations", "enabled",
}
SOURCE_KEYS = {"id", "name", "kind", "url", "timeout_seconds", "enabled", "health"}
SECRETS = ("auth_token", "username", "password", "kubeconfig", "context")


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, data: dict | None = None) -> Any:
    return getattr(client, method)(url, data or {}, content_type="application/json")


def row_counts() -> dict[str, int]:
    """Rows of every table (of models whose migrations exist already), to prove nothing was written."""
    tables = set(connection.introspection.table_names())
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.db_table in tables}


def rule_fields(rule: DetectionRule) -> dict[str, Any]:
    rule.refresh_from_db()
    return {f.attname: getattr(rule, f.attname) for f in rule._meta.concrete_fields}


@pytest.fixture
def member() -> Any:
    return UserFactory()


@pytest.fixture
def team(member: Any) -> Any:
    return TeamFactory(members=[member])


@pytest.fixture
def service(team: Any) -> Any:
    return ServiceFactory(team=team, slug="checkout", name="checkout", telemetry_labels={"service": "checkout"})


@pytest.fixture
def staff() -> Any:
    return UserFactory(is_staff=True)


@pytest.fixture
def prom(prometheus: PrometheusProcess) -> DataSource:
    return DataSourceFactory(name="prom", url=prometheus.url, timeout_seconds=5)


def new_rule(source: DataSource, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Error rate", "rule_type": "threshold", "source": source.pk, "query": TRAFFIC,
            "comparator": ">", "threshold_value": 1000, "for_seconds": 60, "severity": "high",
            "annotations": {"summary": "too many errors"}}
    body.update(overrides)
    return body


# -- Rules: reads and scoping --------------------------------------------------------------------


def test_users_see_their_teams_rules_and_org_wide_ones_and_staff_see_all(
    client: Client, member: Any, team: Any, service: Any, staff: Any
) -> None:
    own_team = DetectionRuleFactory(name="own team", team=team)
    own_service = DetectionRuleFactory(name="own service", service=service)
    org_wide = DetectionRuleFactory(name="org wide")
    other = DetectionRuleFactory(name="other team", service=ServiceFactory())

    names = {r["name"] for r in login(client, member).get(RULES).json()["results"]}
    assert names == {own_team.name, own_service.name, org_wide.name}
    assert client.get(f"{RULES}{other.pk}/").status_code == 404

    names = {r["name"] for r in login(client, staff).get(RULES).json()["results"]}
    assert names == {own_team.name, own_service.name, org_wide.name, other.name}


def test_a_rule_reads_in_the_design_shape_with_its_state(client: Client, member: Any, service: Any) -> None:
    rule = DetectionRuleFactory(service=service, team=service.team, last_evaluated_at=timezone.now(),
                                last_value=math.inf)
    AlertFactory(rule=rule, state=AlertState.FIRING)
    AlertFactory(rule=rule, state=AlertState.PENDING)
    AlertFactory(rule=rule, state=AlertState.RESOLVED)

    body = login(client, member).get(f"{RULES}{rule.pk}/").json()

    assert set(body) >= RULE_KEYS
    assert body["state"] == {"status": "firing", "pending": 1, "firing": 1}
    # +Inf (a p95 beyond the last bucket) is not JSON: it is sent as null instead of failing.
    assert body["last_value"] is None
    assert body["source"] == rule.source_id and body["service"] == service.pk


def test_rules_filter_by_type_severity_and_enabled(client: Client, staff: Any) -> None:
    DetectionRuleFactory(name="a", severity="critical")
    DetectionRuleFactory(name="b", severity="low", enabled=False)

    login(client, staff)
    assert [r["name"] for r in client.get(RULES, {"severity": "critical"}).json()["results"]] == ["a"]
    assert [r["name"] for r in client.get(RULES, {"enabled": "false"}).json()["results"]] == ["b"]
    assert client.get(RULES, {"rule_type": "anomaly"}).json()["results"] == []


def test_anonymous_requests_are_refused(client: Client) -> None:
    for url in (RULES, SOURCES, ALERTS, STATUS):
        assert client.get(url).status_code == 401


# -- Rules: writes ---------------------------------------------------------------------------------


def test_a_member_creates_a_rule_for_their_service_and_it_belongs_to_their_team(
    client: Client, member: Any, service: Any, prom: DataSource
) -> None:
    response = send(login(client, member), "post", RULES, new_rule(prom, service=service.pk, comparator="=="))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= RULE_KEYS
    assert body["team"] == service.team_id
    assert body["state"]["status"] == "new"
    assert DetectionRule.objects.get(pk=body["id"]).comparator == "=="


def test_bad_promql_is_a_400_on_query_quoting_prometheus_and_saves_nothing(
    client: Client, staff: Any, prom: DataSource
) -> None:
    login(client, staff)
    before = row_counts()

    response = send(client, "post", RULES, new_rule(prom, query="rate(http_requests_total[5m]"))

    assert response.status_code == 400
    assert list(response.json()) == ["query"]
    assert response.json()["query"][0].startswith("Prometheus rejected the query: ")
    assert "parse error" in response.json()["query"][0]
    assert row_counts() == before


def test_a_source_that_does_not_answer_is_a_400_on_source_and_saves_nothing(client: Client, staff: Any) -> None:
    dead = DataSourceFactory(name="dead", url=f"http://127.0.0.1:{free_port()}")
    login(client, staff)
    before = row_counts()

    response = send(client, "post", RULES, new_rule(dead))

    assert response.status_code == 400
    assert response.json()["source"][0].startswith("Source dead did not answer: cannot reach")
    assert row_counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"threshold_value": "NaN"}, "threshold_value"),
        ({"threshold_value": None}, "threshold_value"),
        ({"comparator": "=>"}, "comparator"),
        ({"rule_type": "pattern", "pattern": "Nope"}, "pattern"),
        ({"rule_type": "pattern", "pattern": "CrashLoopBackOff"}, "source"),
        ({"rule_type": "anomaly", "parameters": {"anomaly": {"z_threshold": -1}}}, "parameters"),
        ({"for_seconds": -5}, "for_seconds"),
        ({"source": 999999}, "source"),
    ],
)
def test_bad_rule_input_is_a_400_naming_the_field(
    client: Client, staff: Any, prom: DataSource, overrides: dict, field: str
) -> None:
    response = send(login(client, staff), "post", RULES, {**new_rule(prom), **overrides})

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not DetectionRule.objects.exists()


def test_members_cannot_write_rules_for_other_teams_or_for_everyone(
    client: Client, member: Any, prom: DataSource
) -> None:
    login(client, member)
    foreign = ServiceFactory()

    response = send(client, "post", RULES, new_rule(prom, service=foreign.pk))
    assert response.status_code == 400 and "service" in response.json()

    response = send(client, "post", RULES, new_rule(prom))
    assert response.status_code == 400 and "team" in response.json()
    assert not DetectionRule.objects.exists()


def test_a_member_updates_their_rule_but_only_staff_change_org_wide_ones(
    client: Client, member: Any, team: Any, staff: Any, prom: DataSource
) -> None:
    mine = DetectionRuleFactory(team=team, source=prom, query=TRAFFIC)
    org_wide = DetectionRuleFactory(source=prom, query=TRAFFIC)
    foreign = DetectionRuleFactory(source=prom, service=ServiceFactory())

    login(client, member)
    response = send(client, "patch", f"{RULES}{mine.pk}/", {"threshold_value": 7, "severity": "critical"})
    assert response.status_code == 200, response.json()
    assert response.json()["threshold_value"] == 7
    assert send(client, "patch", f"{RULES}{org_wide.pk}/", {"severity": "low"}).status_code == 403
    assert send(client, "patch", f"{RULES}{foreign.pk}/", {"severity": "low"}).status_code == 404
    assert client.delete(f"{RULES}{org_wide.pk}/").status_code == 403

    login(client, staff)
    assert send(client, "patch", f"{RULES}{org_wide.pk}/", {"severity": "low"}).status_code == 200


def test_disabling_a_rule_whose_source_is_down_works_without_asking_the_source(
    client: Client, member: Any, team: Any
) -> None:
    rule = DetectionRuleFactory(team=team, source__url=f"http://127.0.0.1:{free_port()}")

    response = send(login(client, member), "patch", f"{RULES}{rule.pk}/", {"enabled": False})

    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert rule.enabled is False


def test_changing_the_query_is_checked_again_and_reschedules_the_rule(
    client: Client, staff: Any, prom: DataSource
) -> None:
    rule = DetectionRuleFactory(source=prom, query=TRAFFIC, next_evaluation_at=timezone.now() + timedelta(hours=1),
                                last_evaluated_at=timezone.now(), memory={"keep": "me"})
    login(client, staff)

    bad = send(client, "patch", f"{RULES}{rule.pk}/", {"query": "sum(("})
    assert bad.status_code == 400 and "query" in bad.json()

    good = send(client, "patch", f"{RULES}{rule.pk}/", {"query": "sum(up)"})
    assert good.status_code == 200
    rule.refresh_from_db()
    assert rule.query == "sum(up)"
    assert rule.next_evaluation_at is None
    assert rule.memory == {"keep": "me"}  # bookkeeping is the cycle's, untouched


def test_a_full_put_replaces_the_rule(client: Client, staff: Any, prom: DataSource) -> None:
    rule = DetectionRuleFactory(source=prom, query=TRAFFIC, description="old")

    response = send(login(client, staff), "put", f"{RULES}{rule.pk}/",
                    new_rule(prom, name="renamed", description="", labels={"tier": "1"}))

    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert (rule.name, rule.description, rule.labels) == ("renamed", "", {"tier": "1"})


def test_deleting_a_rule_deletes_its_alert_states(client: Client, member: Any, team: Any) -> None:
    rule = DetectionRuleFactory(team=team)
    AlertFactory(rule=rule)

    assert login(client, member).delete(f"{RULES}{rule.pk}/").status_code == 204
    assert not DetectionRule.objects.exists() and not Alert.objects.exists()


# -- Rules: test now ---------------------------------------------------------------------------------


def test_testing_a_rule_reports_what_would_fire_and_clear_and_changes_nothing(
    client: Client, staff: Any, prom: DataSource
) -> None:
    rule = DetectionRuleFactory(source=prom, query=TRAFFIC, comparator=">", threshold_value=0, for_seconds=0)
    gone = AlertFactory(rule=rule, fingerprint=fingerprint(rule.pk, {"service": "retired"}),
                        labels={"service": "retired"}, state=AlertState.FIRING)
    pending = AlertFactory(rule=rule, fingerprint=fingerprint(rule.pk, {"service": "checkout"}),
                           labels={"service": "checkout"}, state=AlertState.PENDING, fired_at=None)
    login(client, staff)
    counts, fields = row_counts(), rule_fields(rule)

    response = client.post(f"{RULES}{rule.pk}/test/")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["error"] == ""
    assert body["series_count"] == 2  # checkout and payments, from the real exporter
    assert sorted(b["labels"]["service"] for b in body["breaches"]) == ["checkout", "payments"]
    fire = {c["labels"]["service"]: c for c in body["would_fire"]}
    assert set(fire) == {"checkout", "payments"}
    assert fire["checkout"]["state_before"] == "pending" and fire["checkout"]["alert_id"] == pending.pk
    assert fire["payments"]["state_before"] == "inactive" and fire["payments"]["alert_id"] is None
    assert [(c["alert_id"], c["state_after"]) for c in body["would_clear"]] == [(gone.pk, "resolved")]
    assert "would fire" in body["summary"]
    # Nothing written: no alert moved, no incident, not even the rule's bookkeeping.
    assert row_counts() == counts
    assert rule_fields(rule) == fields
    assert Alert.objects.get(pk=gone.pk).state == AlertState.FIRING
    assert Alert.objects.get(pk=pending.pk).state == AlertState.PENDING


def test_testing_a_rule_with_for_keeps_new_breaches_pending(client: Client, staff: Any, prom: DataSource) -> None:
    rule = DetectionRuleFactory(source=prom, query=TRAFFIC, threshold_value=0, for_seconds=300)

    body = login(client, staff).post(f"{RULES}{rule.pk}/test/").json()

    assert {c["state_after"] for c in body["breaches"]} == {"pending"}
    assert body["would_fire"] == []


def test_testing_a_rule_whose_source_is_down_reports_it_and_changes_nothing(client: Client, staff: Any) -> None:
    rule = DetectionRuleFactory(source__url=f"http://127.0.0.1:{free_port()}")
    login(client, staff)
    counts, fields = row_counts(), rule_fields(rule)

    body = client.post(f"{RULES}{rule.pk}/test/").json()

    assert body["ok"] is False
    assert body["error_kind"] == "unavailable"
    assert "cannot reach" in body["error"]
    assert row_counts() == counts and rule_fields(rule) == fields
    assert DataSource.objects.get(pk=rule.source_id).consecutive_failures == 0


def test_other_teams_rules_cannot_be_tested(client: Client, member: Any) -> None:
    rule = DetectionRuleFactory(service=ServiceFactory())

    assert login(client, member).post(f"{RULES}{rule.pk}/test/").status_code == 404


# -- Sources -------------------------------------------------------------------------------------------


def test_staff_create_a_source_and_credentials_are_never_echoed(
    client: Client, staff: Any, prometheus: PrometheusProcess
) -> None:
    body = {"name": "main", "kind": "prometheus", "url": prometheus.url, "timeout_seconds": 5,
            "auth_token": "s3cret-token", "username": "reader", "password": "hunter2"}

    created = send(login(client, staff), "post", SOURCES, body)

    assert created.status_code == 201, created.json()
    source = DataSource.objects.get(name="main")
    assert (source.auth_token, source.username, source.password) == ("s3cret-token", "reader", "hunter2")
    for response in (created, client.get(f"{SOURCES}{source.pk}/"), client.get(SOURCES)):
        text = response.content.decode()
        assert "s3cret-token" not in text and "hunter2" not in text and "reader" not in text
    detail = client.get(f"{SOURCES}{source.pk}/").json()
    assert set(detail) >= SOURCE_KEYS
    assert not set(SECRETS) & set(detail)
    assert detail["credentials_set"] == ["auth_token", "username", "password"]
    assert detail["health"]["healthy"] is True


def test_a_source_update_without_credentials_keeps_them(client: Client, staff: Any) -> None:
    source = DataSourceFactory(auth_token="keep-me", enabled=False)

    response = send(login(client, staff), "patch", f"{SOURCES}{source.pk}/", {"timeout_seconds": 3})

    assert response.status_code == 200, response.json()
    source.refresh_from_db()
    assert source.auth_token == "keep-me" and source.timeout_seconds == 3


def test_a_source_that_does_not_answer_is_a_400_on_url(client: Client, staff: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    response = send(login(client, staff), "post", SOURCES, {"name": "x", "kind": "prometheus", "url": url})

    assert response.status_code == 400
    assert response.json()["url"][0].startswith(f"Prometheus at {url} did not answer")
    assert not DataSource.objects.exists()


def test_sources_are_read_by_everyone_and_written_by_staff_only(client: Client, member: Any) -> None:
    source = DataSourceFactory(consecutive_failures=3, last_error="timeout")
    login(client, member)

    listed = client.get(SOURCES).json()["results"]
    assert [s["health"] for s in listed] == [{"healthy": False, "last_ok_at": None, "last_error": "timeout",
                                              "last_error_at": None, "consecutive_failures": 3}]
    assert send(client, "post", SOURCES, {"name": "y", "kind": "prometheus", "url": "http://x"}).status_code == 403
    assert send(client, "patch", f"{SOURCES}{source.pk}/", {"enabled": False}).status_code == 403
    assert client.delete(f"{SOURCES}{source.pk}/").status_code == 403


def test_a_source_used_by_rules_cannot_change_its_kind(client: Client, staff: Any) -> None:
    rule = DetectionRuleFactory(source__enabled=False)

    response = send(login(client, staff), "patch", f"{SOURCES}{rule.source_id}/", {"kind": "loki"})

    assert response.status_code == 400 and "kind" in response.json()
    assert DataSource.objects.get(pk=rule.source_id).kind == "prometheus"


def test_a_source_used_by_rules_cannot_be_deleted(client: Client, staff: Any) -> None:
    rule = DetectionRuleFactory()

    response = login(client, staff).delete(f"{SOURCES}{rule.source_id}/")

    assert response.status_code == 409
    assert "1 rule(s) use" in response.json()["detail"]
    unused = DataSourceFactory()
    assert client.delete(f"{SOURCES}{unused.pk}/").status_code == 204


# -- Alerts and status -----------------------------------------------------------------------------


def test_alerts_are_scoped_to_the_users_teams_and_filter_by_state(
    client: Client, member: Any, service: Any
) -> None:
    rule = DetectionRuleFactory(service=service, team=service.team)
    firing = AlertFactory(rule=rule, state=AlertState.FIRING)
    AlertFactory(rule=rule, state=AlertState.RESOLVED)
    AlertFactory(rule=DetectionRuleFactory(service=ServiceFactory()), state=AlertState.FIRING)

    login(client, member)
    assert len(client.get(ALERTS).json()["results"]) == 2
    body = client.get(ALERTS, {"state": "firing"}).json()["results"]
    assert [a["id"] for a in body] == [firing.pk]
    assert body[0]["rule"] == {"id": rule.pk, "name": rule.name}
    assert body[0]["service"] == {"id": service.pk, "slug": "checkout", "name": "checkout"}
    assert client.get(ALERTS, {"state": "bogus"}).status_code == 400


def test_status_shows_the_last_cycle_active_alerts_and_source_health(
    client: Client, member: Any, service: Any
) -> None:
    started = timezone.now() - timedelta(seconds=10)
    DetectionCycleFactory(started_at=started - timedelta(minutes=1), finished_at=started - timedelta(seconds=50))
    last = DetectionCycleFactory(started_at=started, finished_at=started + timedelta(seconds=2.5),
                                 rules_evaluated=40, rules_errored=2)
    running = DetectionCycleFactory(finished_at=None, chunks_done=0)
    rule = DetectionRuleFactory(service=service, team=service.team, severity="critical", last_error="boom")
    firing = AlertFactory(rule=rule, state=AlertState.FIRING, value=0.31)
    pending = AlertFactory(rule=rule, state=AlertState.PENDING, fired_at=None)
    AlertFactory(rule=DetectionRuleFactory(service=ServiceFactory()), state=AlertState.FIRING)  # not theirs
    down = DataSource.objects.get(pk=rule.source_id)
    Alert.objects.create(kind=AlertKind.SOURCE_DOWN, source=down, fingerprint=f"source_down:{down.pk}",
                         state=AlertState.FIRING, active_since=timezone.now())
    DataSource.objects.filter(pk=down.pk).update(consecutive_failures=4, last_error="refused")

    body = login(client, member).get(STATUS).json()

    assert body["last_cycle"]["id"] == last.pk
    assert body["last_cycle"]["duration_seconds"] == pytest.approx(2.5)
    assert (body["last_cycle"]["rules_evaluated"], body["last_cycle"]["rules_errored"]) == (40, 2)
    assert body["running_cycle"]["id"] == running.pk
    assert (body["rules_enabled"], body["rules_erroring"]) == (1, 1)
    ids = [a["id"] for a in body["active_alerts"]]
    assert ids[-1] == pending.pk and firing.pk in ids and len(ids) == 3  # its own two, and the source-down one
    by_id = {a["id"]: a for a in body["active_alerts"]}
    assert by_id[firing.pk]["value"] == 0.31 and by_id[firing.pk]["severity"] == "critical"
    assert by_id[firing.pk]["since"] is not None and by_id[firing.pk]["rule"]["name"] == rule.name
    health = {s["name"]: s for s in body["sources"]}[down.name]
    assert (health["healthy"], health["consecutive_failures"], health["last_error"]) == (False, 4, "refused")


def test_status_before_any_cycle_is_empty_not_an_error(client: Client, member: Any) -> None:
    body = login(client, member).get(STATUS).json()

    assert body["last_cycle"] is None and body["running_cycle"] is None and body["active_alerts"] == []


def test_the_openapi_schema_is_served_with_the_detection_endpoints(client: Client, member: Any) -> None:
    response = login(client, member).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/detection/rules/", "/api/detection/rules/{id}/", "/api/detection/rules/{id}/test/",
                 "/api/detection/status/", "/api/detection/alerts/", "/api/detection/sources/{id}/"):
        assert path in paths
