"""Two real PostgreSQL connections racing: exactly one winner, never a lost update or a duplicate."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction

from incidents.models import Incident, Severity, Status, TimelineKind
from incidents.services import incident_acknowledge, incident_open_or_attach, incident_transition
from reliability_studio.lib.errors import Conflict
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 10  # seconds; a deadlock fails the test instead of hanging it


def in_own_connection(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``fn`` on this thread's own database connection, and close it afterwards."""

    def run() -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
            return exc
        finally:
            connection.close()

    return run


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Start the calls together, each in its own thread and connection; results or exceptions."""
    barrier = threading.Barrier(len(calls))

    def start_together(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            barrier.wait(WAIT)
            return fn()

        return in_own_connection(run)

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(start_together(fn)) for fn in calls]
        return [future.result(WAIT) for future in futures]


@pytest.fixture
def people():
    alice, bob = UserFactory(), UserFactory()
    service = ServiceFactory(team=TeamFactory(members=[alice, bob]))
    return alice, bob, service


def signal(service) -> dict[str, Any]:
    return {"fingerprint": "rule-1:checkout", "title": "Checkout errors", "severity": Severity.HIGH, "service": service}


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_identical_transitions_give_one_winner_and_one_conflict(people, round_):
    alice, bob, service = people
    incident = IncidentFactory(service=service)

    results = race(
        lambda: incident_transition(incident=incident, to=Status.INVESTIGATING, user=alice),
        lambda: incident_transition(incident=incident, to=Status.INVESTIGATING, user=bob),
    )

    winners = [r for r in results if isinstance(r, Incident)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(winners), len(conflicts)) == (1, 1), results
    assert "already investigating" in conflicts[0].message
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.acknowledged_by == winners[0].acknowledged_by
    assert incident.timeline.filter(kind=TimelineKind.STATUS_CHANGED).count() == 1


def test_a_transition_waits_for_the_locking_one_and_then_sees_its_result(people):
    alice, bob, service = people
    incident = IncidentFactory(service=service)
    locked, release = threading.Event(), threading.Event()

    def slow_alice() -> Any:
        with transaction.atomic():
            result = incident_transition(incident=incident, to=Status.INVESTIGATING, user=alice)
            locked.set()
            release.wait(WAIT)  # hold the row lock, uncommitted
        return result

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(in_own_connection(slow_alice))
        assert locked.wait(WAIT)
        second = pool.submit(
            in_own_connection(lambda: incident_transition(incident=incident, to="mitigated", user=bob))
        )
        with pytest.raises(TimeoutError):
            second.result(0.5)  # blocked on the row lock, not racing past it
        release.set()
        assert isinstance(first.result(WAIT), Incident)
        moved = second.result(WAIT)

    # Bob's transition ran on Alice's committed row: investigating → mitigated, no skip, no lost update.
    assert isinstance(moved, Incident), moved
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.MITIGATED, alice)
    assert incident.mitigated_at is not None


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_openers_of_one_fingerprint_make_one_incident_with_two_signals(people, round_):
    _, _, service = people

    results = race(
        lambda: incident_open_or_attach(**signal(service)), lambda: incident_open_or_attach(**signal(service))
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(outcome for _, outcome in results) == ["attached", "opened"]
    incident = Incident.objects.get(fingerprint="rule-1:checkout")
    assert incident.signal_count == 2
    assert incident.timeline.filter(kind=TimelineKind.DETECTED).count() == 1


def test_an_opener_blocked_on_the_unique_index_attaches_to_the_winner(people):
    _, _, service = people
    opened, release = threading.Event(), threading.Event()

    def slow_opener() -> Any:
        with transaction.atomic():
            result = incident_open_or_attach(**signal(service))
            opened.set()
            release.wait(WAIT)  # the new row exists, uncommitted: invisible to the other opener
        return result

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(in_own_connection(slow_opener))
        assert opened.wait(WAIT)
        second = pool.submit(in_own_connection(lambda: incident_open_or_attach(**signal(service))))
        with pytest.raises(TimeoutError):
            second.result(0.5)  # its insert waits on the partial unique index
        release.set()
        (winner, first_outcome), (joined, second_outcome) = first.result(WAIT), second.result(WAIT)

    assert (first_outcome, second_outcome) == ("opened", "attached")
    assert winner.pk == joined.pk
    assert Incident.objects.get().signal_count == 2


def test_two_concurrent_acknowledgements_give_one_winner_and_one_conflict(people):
    alice, bob, service = people
    incident = IncidentFactory(service=service)

    results = race(
        lambda: incident_acknowledge(incident=incident, user=alice),
        lambda: incident_acknowledge(incident=incident, user=bob),
    )

    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Incident"]
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1
