"""The operator pages in a real browser against a real server process."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from incidents.models import TimelineKind
from tests.conftest import require_service
from tests.factories import (
    PASSWORD,
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    TimelineEventFactory,
    UserFactory,
)
from tests.ui.conftest import SIZES, screenshot, wait_until_live
from tests.ui.seed import seed_showcase

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = {
    "feed": "/incidents/",
    "workspace": None,  # the critical incident of the showcase
    "alerts": "/alerts/",
    "rules": "/rules/",
    "insights": "/insights/",
}


@pytest.fixture
def crew():
    user = UserFactory(username="ada")
    team = TeamFactory(name="Payments", slug="payments", members=[user])
    return user, ServiceFactory(name="Checkout", slug="checkout", team=team)


def test_signing_in_with_the_form_leads_to_the_live_feed(open_page, crew):
    user, _ = crew
    page = open_page()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    screenshot(page, "login-1280x800")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    wait_until_live(page)
    expect(page.locator("#live-text")).to_have_text("Live")


def test_an_incident_opened_by_another_process_appears_in_the_feed_without_a_reload(open_page, studio, crew):
    user, service = crew
    page = open_page(user)
    page.goto("/incidents/")
    wait_until_live(page)
    expect(page.locator("#feed-rows")).to_contain_text("All quiet")
    page.evaluate("window.__sameDocument = true")

    if studio.shares_events_across_processes:
        # The detector's own path, in another process: a firing signal opens the incident.
        studio.shell(
            "from incidents.models import Service; from incidents.services import incident_open_or_attach; "
            f"incident_open_or_attach(fingerprint='ui-test', title='Checkout is on fire', severity='critical', "
            f"service=Service.objects.get(pk={service.pk}))"
        )
    else:
        # One process holds the channel layer: open it through that process's API.
        token = requests.post(f"{studio.url}/api/auth/token/",
                              data={"username": user.username, "password": PASSWORD}, timeout=10).json()["access"]
        response = requests.post(
            f"{studio.url}/api/incidents/", json={"title": "Checkout is on fire", "severity": "critical",
                                                  "service": service.pk},
            headers={"Authorization": f"Bearer {token}"}, timeout=10,
        )
        assert response.status_code == 201, response.text

    row = page.locator("#feed-rows tr", has_text="Checkout is on fire")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Critical")
    expect(row).to_contain_text("Checkout")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"


def test_acknowledging_and_moving_an_incident_through_its_lifecycle_from_the_workspace(open_page, crew):
    user, service = crew
    incident = IncidentFactory(title="Payments latency over 2 s", severity="high", service=service)
    page = open_page(user)
    page.goto(f"/incidents/{incident.pk}/")
    wait_until_live(page)
    status = page.locator("#incident-status")
    expect(status).to_contain_text("Open")
    expect(status).to_contain_text("Unacked")

    page.get_by_role("button", name="Acknowledge").click()

    expect(status).not_to_contain_text("Unacked")
    expect(page.get_by_role("status").filter(has_text="you are on it")).to_be_visible()
    expect(page.locator("#incident-acknowledged-by")).to_have_text(user.username)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("Acknowledged")

    page.get_by_role("button", name="Investigate").click()
    expect(status).to_contain_text("Investigating")
    # A skip needs a note: the service's refusal is shown, and nothing changes.
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("alert")).to_contain_text("say why in the note")
    expect(status).to_contain_text("Investigating")

    # A note being typed survives the live refresh that someone else's change causes.
    note = page.get_by_label("Note")
    note.fill("Rolled back the 14:02 deploy")
    colleague = page.context.new_page()
    colleague.goto(f"/incidents/{incident.pk}/")
    with page.expect_response(lambda r: r.url.endswith(f"/incidents/{incident.pk}/") and r.request.method == "GET"):
        colleague.get_by_label("Comment").fill("Paging the database on-call.")
        colleague.get_by_role("button", name="Comment").click()
    expect(page.locator("#timeline")).to_contain_text("Paging the database on-call.")
    expect(note).to_have_value("Rolled back the 14:02 deploy")
    colleague.close()

    note.fill("Rolled back the 14:02 deploy; p99 back under 300 ms.")
    page.get_by_role("button", name="Resolve").click()
    expect(status).to_contain_text("Resolved")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    expect(page.locator("#incident-resolution")).to_contain_text("Rolled back the 14:02 deploy")

    page.get_by_label("Comment").fill("Postmortem on Thursday.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#timeline")).to_contain_text("Postmortem on Thursday.")
    expect(page.get_by_label("Comment")).to_have_value("")

    # The feed, opened afterwards in the same browser, shows the new status.
    page.goto("/incidents/")
    expect(page.locator(f"#incident-{incident.pk}")).to_contain_text("Resolved")


def test_the_alerts_badge_counts_an_alert_that_starts_firing_in_another_process(open_page, studio, redis_url):
    if not studio.shares_events_across_processes:
        require_service("REDIS_URL: without it the channel layer lives inside the server process")
    showcase = seed_showcase()
    page = open_page(showcase.user)
    page.goto("/alerts/")
    wait_until_live(page)
    badge = page.locator("#firing-badge")
    expect(badge).to_have_attribute("data-count", "1")
    expect(page.locator("#nav-alerts")).to_have_text(re.compile(r"^\s*1"))

    # A detection evaluation in another process, as a worker runs it: the rule breaches, the
    # alert fires (for_seconds=0), an incident opens, and an `alert` event is published.
    studio.shell(
        "from django.utils import timezone; "
        "from detection.evaluation import Evaluation; from detection.evaluators.base import Breach; "
        "from detection.models import DetectionRule; from detection.services import rule_evaluation_apply; "
        "from incidents.models import Service; "
        "rule = DetectionRule.objects.get(name='Ledger lag'); "
        "rule_evaluation_apply(rule=rule, evaluation=Evaluation(breaches=[Breach(labels={'service': 'ledger'}, "
        "value=4200.0, reason='4200 > 1000')], value=4200.0), now=timezone.now(), "
        "services=list(Service.objects.all()))"
    )

    expect(badge).to_have_attribute("data-count", "2")
    expect(badge).to_contain_text("2 firing")
    expect(page.locator("table.alerts")).to_contain_text("Ledger lag")
    expect(page.locator("#nav-alerts")).to_have_text(re.compile(r"^\s*2"))


def test_the_feed_reconnects_after_going_offline_and_replays_what_it_missed(open_page, crew):
    user, service = crew
    page = open_page(user)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto("/incidents/")
    wait_until_live(page)

    page.context.set_offline(True)
    page.wait_for_function("['reconnecting', 'disconnected'].includes(document.documentElement.dataset.live)")
    missed = IncidentFactory(title="Opened while the browser was offline", severity="critical", service=service)
    TimelineEventFactory(incident=missed, kind=TimelineKind.DETECTED, actor_name="detector")
    page.context.set_offline(False)

    wait_until_live(page)
    expect(page.locator(f"#incident-{missed.pk}")).to_be_visible()
    # The replay (not only the reload of the rows) brought the missed `incident_created`.
    expect(page.locator("#live-announcer")).to_contain_text(f"New critical incident: {missed.title}")
    assert len(sockets) >= 2 and "since=" in sockets[-1]


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits_the_screen_and_keeps_other_teams_out(open_page, size):
    showcase = seed_showcase()
    page = open_page(showcase.user, size=size)
    for name, path in PAGES.items():
        page.goto(path or f"/incidents/{showcase.critical.pk}/")
        wait_until_live(page)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{name} at {size} scrolls sideways: {width}"
        assert "another team" not in page.content(), f"{name} shows another team's incident"
        if size == "1280x800":
            # Tables turn into cards only on phones; on a desktop they stay tables.
            assert page.evaluate(
                "[...document.querySelectorAll('table.grid')].every(t => getComputedStyle(t).display === 'table')"
            ), f"{name} at {size} draws a table as something else"
        screenshot(page, f"{name}-{size}")

    # Dark theme, chosen with the toggle (it outlives the page).
    page.goto("/incidents/")
    toggle = page.get_by_role("button", name=re.compile("^Theme"))
    toggle.click()  # automatic → light
    toggle.click()  # light → dark
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"/incidents/{showcase.critical.pk}/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    screenshot(page, f"workspace-dark-{size}")


def test_the_keyboard_reaches_the_skip_link_first_and_then_the_navigation(open_page, crew):
    user, _ = crew
    page = open_page(user)
    page.goto("/incidents/")

    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Incidents")


def test_a_page_whose_session_ended_goes_to_sign_in_instead_of_drawing_it_inside_the_feed(open_page, crew):
    user, _ = crew
    page = open_page(user)
    page.goto("/incidents/")
    wait_until_live(page)

    page.context.clear_cookies()
    page.get_by_label("Severity").select_option("critical")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2Fincidents%2F"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
