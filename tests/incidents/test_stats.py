"""MTTA, MTTR, MTTF and friends on hand-computed data.

Checkout (team Shop), three incidents, times in minutes after T:
    #1 critical  detected 0,   acked 5,   resolved 60              MTTA 5   MTTR 60
    #2 high      detected 120, acked 130, resolved 150, impact 100 MTTA 10  MTTR 50   MTTF 120-60  = 60
    #3 high      detected 300, acked 301, resolved 302 (false +)   MTTA 1   —         —
    #4 low       detected 400, not acked, unresolved               —        —         MTTF 400-150 = 250
Search (team Shop), one incident:
    #5 medium    detected 30,  acked 50,  resolved 90              MTTA 20  MTTR 60   (first: no MTTF)
Search had an incident before the range, resolved at T-100: #5 MTTF = 30 - (-100) = 130.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents import analytics
from incidents.models import Severity, Status
from incidents.selectors import incident_stats
from reliability_studio.lib.errors import DomainError
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RANGE = {"since": T - timedelta(hours=1), "until": T + timedelta(days=1)}


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def incident(service, severity, detected, acked=None, resolved=None, impact=None, false_positive=False):
    return IncidentFactory(
        service=service,
        severity=severity,
        detected_at=at(detected),
        acknowledged_at=at(acked) if acked is not None else None,
        resolved_at=at(resolved) if resolved is not None else None,
        status=Status.RESOLVED if resolved is not None else Status.OPEN,
        impact_started_at=at(impact) if impact is not None else None,
        false_positive=false_positive,
    )


@pytest.fixture
def shop(member):
    team = TeamFactory(name="Shop", slug="shop", members=[member])
    checkout = ServiceFactory(team=team, slug="checkout", name="Checkout")
    search = ServiceFactory(team=team, slug="search", name="Search")
    incident(search, Severity.LOW, detected=-200, acked=-190, resolved=-100)  # before the range
    incident(checkout, Severity.CRITICAL, detected=0, acked=5, resolved=60)
    incident(checkout, Severity.HIGH, detected=120, acked=130, resolved=150, impact=100)
    incident(checkout, Severity.HIGH, detected=300, acked=301, resolved=302, false_positive=True)
    incident(checkout, Severity.LOW, detected=400)
    incident(search, Severity.MEDIUM, detected=30, acked=50, resolved=90)
    return {"team": team, "checkout": checkout, "search": search}


def summary(count, mean, median, p90):
    return {"count": count, "mean": mean, "median": median, "p90": p90}


def test_overall_numbers_match_the_hand_computation(member, shop):
    stats = incident_stats(user=member, **RANGE)

    assert stats["count"] == 5
    # MTTA: 5, 10, 1, 20 min → sorted 60, 300, 600, 1200 s; p90 rank 2.7 → 600 + 0.7 * 600 = 1020.
    assert stats["mtta"] == summary(4, 540.0, 450.0, 1020.0)
    # MTTR without the false positive: 60, 50, 60 min → 3600, 3000, 3600 s.
    assert stats["mttr"] == summary(3, 3400.0, 3600.0, 3600.0)
    # MTTF: 60, 250 min (checkout), 130 min (search) → 3600, 7800, 15000 s.
    assert stats["mttf"] == summary(3, 8800.0, 7800.0, 13560.0)
    assert (stats["resolved"], stats["false_positives"], stats["false_positive_rate"]) == (4, 1, 0.25)
    assert stats["severity_distribution"] == {"critical": 1, "high": 2, "medium": 1, "low": 1}


def test_per_service_team_and_severity_groups(member, shop):
    stats = incident_stats(user=member, **RANGE)

    by_service = {group["service"]["slug"]: group for group in stats["by_service"]}
    assert by_service["checkout"]["count"] == 4
    assert by_service["checkout"]["mttf"] == summary(2, 9300.0, 9300.0, 13860.0)
    assert by_service["search"]["mtta"] == summary(1, 1200.0, 1200.0, 1200.0)
    assert by_service["search"]["mttf"] == summary(1, 7800.0, 7800.0, 7800.0)
    assert [group["team"]["slug"] for group in stats["by_team"]] == ["shop"]
    assert stats["by_team"][0]["count"] == 5
    by_severity = {group["severity"]: group for group in stats["by_severity"]}
    assert by_severity["high"]["false_positive_rate"] == 0.5
    assert by_severity["high"]["mttr"] == summary(1, 3000.0, 3000.0, 3000.0)
    assert by_severity["low"]["mttf"] == summary(1, 15000.0, 15000.0, 15000.0)


def test_filters_narrow_every_number(member, shop):
    only_high = incident_stats(user=member, severity=Severity.HIGH, **RANGE)
    only_search = incident_stats(user=member, service=shop["search"], **RANGE)

    assert only_high["count"] == 2
    # MTTF keeps looking at every severity: #2 follows #1's resolution regardless.
    assert only_high["mttf"] == summary(1, 3600.0, 3600.0, 3600.0)
    assert only_search["count"] == 1
    assert only_search["mttr"] == summary(1, 3600.0, 3600.0, 3600.0)


def test_incidents_per_hour_and_per_day(member, shop):
    stats = incident_stats(user=member, **RANGE)

    assert [(b["start"], b["count"]) for b in stats["per_hour"]] == [
        (T, 2),
        (T + timedelta(hours=2), 1),
        (T + timedelta(hours=5), 1),
        (T + timedelta(hours=6), 1),
    ]
    assert [(b["start"], b["count"]) for b in stats["per_day"]] == [(T.replace(hour=0), 5)]


def test_other_teams_incidents_do_not_count(outsider, shop):
    assert incident_stats(user=outsider, **RANGE)["count"] == 0


def test_an_empty_range_gives_zeros_and_nones(member):
    stats = incident_stats(user=member, **RANGE)

    assert stats["count"] == 0
    assert stats["mtta"] == summary(0, None, None, None)
    assert stats["false_positive_rate"] is None
    assert stats["per_hour"] == [] and stats["by_team"] == []


def test_a_range_that_is_backwards_or_too_long_is_refused(member):
    with pytest.raises(DomainError) as backwards:
        incident_stats(user=member, since=T, until=T - timedelta(days=1))
    with pytest.raises(DomainError) as too_long:
        incident_stats(user=member, since=T - timedelta(days=400), until=T)

    assert backwards.value.field == too_long.value.field == "since"


def test_the_stats_endpoint_answers_with_the_same_numbers(member, shop):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(member)

    response = client.get(
        "/api/incidents/stats/",
        {"since": RANGE["since"].isoformat(), "until": RANGE["until"].isoformat(), "team": "shop"},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["mtta"] == summary(4, 540.0, 450.0, 1020.0)
    assert body["per_day"] == [{"start": "2026-03-02T00:00:00Z", "count": 5}]
    assert {"by_team", "by_service", "by_severity", "severity_distribution", "per_hour"} <= set(body)


@pytest.mark.parametrize(
    ("query", "field"),
    [({"severity": "apocalyptic"}, "severity"), ({"team": "nobody"}, "team"), ({"since": "2026-13-01"}, "since")],
)
def test_the_stats_endpoint_refuses_bad_parameters_naming_them(member, query, field):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(member)

    response = client.get("/api/incidents/stats/", query)

    assert response.status_code == 400
    assert field in response.json()


# --- the pure arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
        ([1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
    ],
)
def test_percentile_interpolates_between_closest_ranks(values, q, expected):
    result = analytics.percentile(values, q)

    assert result == pytest.approx(expected) if expected is not None else result is None


def test_failure_free_periods_skip_overlaps_and_unresolved_predecessors():
    def minute(m):
        return m * 60.0

    outages = [
        analytics.Outage("a", minute(0), minute(100)),
        analytics.Outage("b", minute(10), minute(20)),  # inside a: no period before it
        analytics.Outage("c", minute(50), minute(60)),  # a still running
        analytics.Outage("d", minute(150), None),  # 50 min after a
        analytics.Outage("e", minute(200), minute(210)),  # d never resolved
    ]

    assert analytics.failure_free_periods(reversed(outages)) == [("d", 3000.0)]
    assert analytics.failure_free_periods(outages[:1], busy_until=minute(-30)) == [("a", 1800.0)]
    assert analytics.failure_free_periods(outages[:1], busy_until=minute(-30), still_unresolved=True) == []


def test_mttr_counts_from_impact_start_when_known():
    assert analytics.mttr_seconds(at(10), at(70), impact_started_at=at(0)) == 4200.0
    assert analytics.mttr_seconds(at(10), at(70)) == 3600.0
    assert analytics.mttr_seconds(at(10), None) is None
    assert analytics.mtta_seconds(at(10), None) is None
