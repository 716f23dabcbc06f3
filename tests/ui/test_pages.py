"""The operator pages through Django's test client: scoping, fragments, lifecycle writes, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from detection.models import AlertState
from incidents.models import Status, TimelineEvent
from tests.detection.factories import AlertFactory, DataSourceFactory, DetectionRuleFactory
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def member():
    return UserFactory()


@pytest.fixture
def service(member):
    return ServiceFactory(name="Checkout", slug="checkout", team=TeamFactory(members=[member]))


@pytest.fixture
def stranger_service():
    return ServiceFactory(name="Search", slug="search")


@pytest.fixture
def signed_in(client, member):
    client.force_login(member)
    return client


@pytest.mark.parametrize("path", ["/", "/incidents/", "/incidents/1/", "/alerts/", "/rules/", "/insights/"])
def test_every_page_asks_for_a_sign_in_first(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_feed_shows_only_the_users_teams_incidents_newest_first(signed_in, service, stranger_service):
    older = IncidentFactory(title="Older", service=service, detected_at=timezone.now() - timedelta(hours=1))
    newer = IncidentFactory(title="Newer", service=service)
    IncidentFactory(title="Not yours", service=stranger_service)

    response = signed_in.get("/incidents/")

    assert [incident.pk for incident in response.context["incidents"]] == [newer.pk, older.pk]
    assert b"Not yours" not in response.content
    assert b'data-live="incidents"' in response.content


def test_the_feed_shows_at_most_fifty_incidents(signed_in, service):
    IncidentFactory.create_batch(52, service=service)

    assert len(signed_in.get("/incidents/").context["incidents"]) == 50


def test_an_htmx_refresh_gets_only_the_rows_and_a_vary_header(signed_in, service):
    IncidentFactory(title="Checkout down", service=service)

    response = signed_in.get("/incidents/", **HTMX)

    assert response.templates[0].name == "incidents/_feed_rows.html"
    assert b"<html" not in response.content
    assert b"Checkout down" in response.content
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(signed_in, service):
    response = signed_in.get("/incidents/", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)

    assert b"<html" in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=unresolved", {"open", "mitigated"}),
        ("status=resolved", {"resolved"}),
        ("severity=critical", {"open"}),
        ("service=checkout", {"open", "mitigated", "resolved"}),
        ("service=search", set()),  # another team's service: nothing, not its incidents
        ("status=bogus&severity=nope", {"open", "mitigated", "resolved"}),  # stale bookmarks still work
    ],
)
def test_feed_filters(signed_in, service, stranger_service, query, expected):
    IncidentFactory(service=service, severity="critical")
    IncidentFactory(service=service, severity="low", status=Status.MITIGATED)
    IncidentFactory(service=service, severity="low", status=Status.RESOLVED, resolved_at=timezone.now())
    IncidentFactory(service=stranger_service, severity="critical")

    response = signed_in.get(f"/incidents/?{query}")

    assert {incident.status for incident in response.context["incidents"]} == expected


def test_another_teams_incident_is_not_found(signed_in, stranger_service):
    incident = IncidentFactory(service=stranger_service)

    assert signed_in.get(f"/incidents/{incident.pk}/").status_code == 404
    assert signed_in.post(f"/incidents/{incident.pk}/acknowledge/").status_code == 404
    assert signed_in.get(f"/incidents/{incident.pk}/timeline/").status_code == 404


def test_the_workspace_offers_only_the_transitions_valid_now(signed_in, service):
    incident = IncidentFactory(service=service, status=Status.MITIGATED, acknowledged_at=timezone.now())

    response = signed_in.get(f"/incidents/{incident.pk}/")

    assert [action.to for action in response.context["actions"]] == ["resolved"]
    assert b'value="resolved"' in response.content
    assert b'value="investigating"' not in response.content
    assert b">Acknowledge<" not in response.content


def test_the_workspace_shows_mtta_and_mttr_so_far(signed_in, service):
    detected = timezone.now() - timedelta(minutes=10)
    incident = IncidentFactory(service=service, detected_at=detected, acknowledged_at=detected + timedelta(seconds=90))

    clocks = signed_in.get(f"/incidents/{incident.pk}/").context["clocks"]

    assert (clocks.mtta_seconds, clocks.mtta_running) == (90.0, False)
    assert clocks.mttr_running and 590 <= clocks.mttr_seconds <= 660


def test_acknowledging_without_javascript_redirects_back_with_a_message(signed_in, member, service):
    incident = IncidentFactory(service=service)

    response = signed_in.post(f"/incidents/{incident.pk}/acknowledge/", follow=True)

    incident.refresh_from_db()
    assert incident.acknowledged_by == member
    assert response.redirect_chain[-1][0] == f"/incidents/{incident.pk}/"
    assert b"you are on it" in response.content


def test_acknowledging_twice_shows_who_won(signed_in, service):
    other = UserFactory(username="grace")
    incident = IncidentFactory(service=service, acknowledged_at=timezone.now(), acknowledged_by=other)

    response = signed_in.post(f"/incidents/{incident.pk}/acknowledge/", **HTMX)

    assert response.status_code == 200
    assert response.context["error"] == f"Incident #{incident.pk} is already acknowledged by grace."
    assert response.context["conflict"] is True
    assert "HX-Trigger" not in response


def test_a_transition_from_htmx_returns_the_header_and_tells_the_page_it_changed(signed_in, service):
    incident = IncidentFactory(service=service)

    response = signed_in.post(f"/incidents/{incident.pk}/transition/", {"to": "investigating"}, **HTMX)

    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING and incident.acknowledged_at is not None
    assert response.templates[0].name == "incidents/_workspace_write.html"
    assert b'id="workspace-flash" hx-swap-oob="true"' in response.content
    assert "incident-changed" in response["HX-Trigger"]
    assert [action.to for action in response.context["actions"]] == ["mitigated", "resolved"]


def test_a_skip_without_a_note_is_refused_with_the_services_message(signed_in, service):
    incident = IncidentFactory(service=service, status=Status.INVESTIGATING, acknowledged_at=timezone.now())

    response = signed_in.post(f"/incidents/{incident.pk}/transition/", {"to": "resolved"}, **HTMX)

    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert "say why in the note" in response.context["error"]


def test_resolving_with_a_note_keeps_it_as_the_resolution(signed_in, service):
    incident = IncidentFactory(service=service, status=Status.MITIGATED, acknowledged_at=timezone.now())

    signed_in.post(f"/incidents/{incident.pk}/transition/", {"to": "resolved", "note": "Rolled back."})

    incident.refresh_from_db()
    assert (incident.status, incident.resolution_note) == (Status.RESOLVED, "Rolled back.")


def test_an_unknown_target_status_is_a_visible_error_not_a_crash(signed_in, service):
    incident = IncidentFactory(service=service)

    response = signed_in.post(f"/incidents/{incident.pk}/transition/", {"to": "exploded"}, follow=True)

    assert response.status_code == 200
    assert b"Unknown status" in response.content


def test_comments_land_on_the_timeline_and_empty_ones_are_refused(signed_in, service):
    incident = IncidentFactory(service=service)

    empty = signed_in.post(f"/incidents/{incident.pk}/comment/", {"message": "  "}, **HTMX)
    saved = signed_in.post(f"/incidents/{incident.pk}/comment/", {"message": "Looking at the canary."}, **HTMX)

    assert empty.context["error"] == "A comment needs some text."
    assert "incident-changed" in saved["HX-Trigger"]
    assert TimelineEvent.objects.filter(incident=incident, kind="comment").get().message == "Looking at the canary."
    timeline = signed_in.get(f"/incidents/{incident.pk}/timeline/")
    assert b"Looking at the canary." in timeline.content


def test_writes_refuse_get(signed_in, service):
    incident = IncidentFactory(service=service)

    assert signed_in.get(f"/incidents/{incident.pk}/acknowledge/").status_code == 405


def test_the_evidence_panel_lists_correlations_best_first(signed_in, service):
    from correlation.models import Correlation

    incident = IncidentFactory(service=service)
    Correlation.objects.create(incident=incident, kind="logs", key="b", title="Second", confidence=0.4, rank=2)
    Correlation.objects.create(incident=incident, kind="change", key="a", title="First", confidence=0.9, rank=1,
                               is_root_cause_candidate=True)

    response = signed_in.get(f"/incidents/{incident.pk}/panels/")

    assert [item.title for item in response.context["evidence"]] == ["First", "Second"]
    assert b"90%" in response.content and b"Root cause candidate" in response.content


def test_alerts_count_only_the_users_firing_alerts(signed_in, service, stranger_service):
    rule = DetectionRuleFactory(service=service, name="Checkout errors")
    AlertFactory(rule=rule)
    AlertFactory(rule=rule, state=AlertState.PENDING)
    AlertFactory(rule=DetectionRuleFactory(service=stranger_service, name="Search lag"))

    page = signed_in.get("/alerts/")
    badge = signed_in.get("/alerts/badge/")

    assert (page.context["dashboard"].firing, page.context["dashboard"].pending) == (1, 1)
    assert b"Checkout errors" in page.content and b"Search lag" not in page.content
    assert b'data-count="1"' in page.content
    assert badge.content.strip().startswith(b'<span class="nav-badge"')


def test_alerts_page_says_so_when_all_is_quiet_and_shows_failing_sources(signed_in):
    DataSourceFactory(name="loki", consecutive_failures=2, last_error="connection refused")

    response = signed_in.get("/alerts/", **HTMX)

    assert response.templates[0].name == "alerts/_alerts_body.html"
    assert b"No active alerts" in response.content
    assert b"connection refused" in response.content
    assert signed_in.get("/alerts/badge/").content.strip() == b""


def test_rules_show_state_last_value_and_error_but_not_other_teams_rules(signed_in, service, stranger_service):
    DetectionRuleFactory(service=service, name="Broken rule", last_error="bad_data: parse error")
    DetectionRuleFactory(service=service, name="Quiet rule", last_value=0.25, last_evaluated_at=timezone.now())
    DetectionRuleFactory(service=stranger_service, name="Their rule")

    response = signed_in.get("/rules/")

    states = {row.rule.name: row.state for row in response.context["rows"]}
    assert states == {"Broken rule": "error", "Quiet rule": "ok"}
    assert b"bad_data: parse error" in response.content and b"0.25" in response.content


def test_insights_use_the_stats_of_the_users_incidents_only(signed_in, service, stranger_service):
    now = timezone.now()
    IncidentFactory(service=service, severity="high", detected_at=now - timedelta(days=2),
                    acknowledged_at=now - timedelta(days=2) + timedelta(minutes=4))
    IncidentFactory(service=stranger_service, detected_at=now - timedelta(days=1))

    response = signed_in.get("/insights/?range=7d&team=not-a-team")

    stats = response.context["stats"]
    assert stats["count"] == 1 and stats["mtta"]["median"] == 240.0
    assert response.context["filters"].team is None
    assert len(response.context["per_period"].columns) in (7, 8)  # the first day may be partial
    assert b"Incidents per day" in response.content


def test_insights_over_a_day_count_per_hour_and_filter_by_service(signed_in, service):
    IncidentFactory(service=service, detected_at=timezone.now() - timedelta(hours=3))

    response = signed_in.get("/insights/?range=24h&service=checkout", **HTMX)

    assert response.templates[0].name == "insights/_insights_body.html"
    assert response.context["filters"].service == service
    assert response.context["per_period_unit"] == "hour"
    assert response.context["per_period"].total == 1


def test_taking_command_names_the_user_commander_and_hides_the_button(signed_in, member, service):
    incident = IncidentFactory(service=service)

    response = signed_in.post(f"/incidents/{incident.pk}/command/", **HTMX)

    incident.refresh_from_db()
    assert incident.commander == member
    assert response.context["notice"] == "You are the incident commander."
    assert b"Take command" not in response.content


def test_the_investigation_panel_shows_hypotheses_steps_with_findings_and_recommendations(signed_in, service):
    from investigation.models import Hypothesis, InvestigationStep

    incident = IncidentFactory(service=service, severity="critical")
    hypothesis = Hypothesis.objects.create(incident=incident, title="The 14:02 deploy broke checkout", confidence=0.7)
    InvestigationStep.objects.create(incident=incident, hypothesis=hypothesis, title="Compare error rate by version",
                                     action="check_metrics", status="completed",
                                     completed_at=timezone.now(), findings={"summary": "Only v2024.11.3 pods fail"})

    response = signed_in.get(f"/incidents/{incident.pk}/panels/")

    investigation = response.context["investigation"]
    assert [h.title for h in investigation.hypotheses] == ["The 14:02 deploy broke checkout"]
    assert b"Only v2024.11.3 pods fail" in response.content
    assert b"70%" in response.content
    assert investigation.actions, "a critical incident without a commander gets recommendations"
