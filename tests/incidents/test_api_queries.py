"""No N+1: the list, the detail and the timeline cost a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import IncidentFactory, ServiceFactory, TimelineEventFactory, UserFactory

pytestmark = pytest.mark.django_db

# Session and user lookups of a signed-in request, then the page itself.
AUTH_QUERIES = 2


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def signed_in(client, member):
    client.force_login(member)
    return client


def test_the_list_costs_the_same_few_queries_for_3_or_30_incidents(signed_in, team, member):
    services = ServiceFactory.create_batch(3, team=team)
    for service in services:
        IncidentFactory(service=service, commander=member, acknowledged_by=member)
    few = count_queries(signed_in, "/api/incidents/")

    for service in services:
        IncidentFactory.create_batch(9, service=service, commander=member)
    many = count_queries(signed_in, "/api/incidents/?status=open&severity=medium&search=Incident")

    assert few == many


def test_list_and_detail_stay_within_their_query_budget(signed_in, service, django_assert_max_num_queries):
    incidents = IncidentFactory.create_batch(20, service=service)

    with django_assert_max_num_queries(AUTH_QUERIES + 1):
        signed_in.get("/api/incidents/")
    with django_assert_max_num_queries(AUTH_QUERIES + 1):
        signed_in.get(f"/api/incidents/{incidents[0].pk}/")


def test_the_timeline_costs_the_same_for_3_or_60_events_with_actors(signed_in, service, django_assert_max_num_queries):
    incident = IncidentFactory(service=service)
    actors = UserFactory.create_batch(4)
    TimelineEventFactory.create_batch(3, incident=incident, actor=actors[0])
    few = count_queries(signed_in, f"/api/incidents/{incident.pk}/timeline/")
    for number in range(57):
        TimelineEventFactory(incident=incident, actor=actors[number % 4])

    with django_assert_max_num_queries(AUTH_QUERIES + 2):
        signed_in.get(f"/api/incidents/{incident.pk}/timeline/")
    assert count_queries(signed_in, f"/api/incidents/{incident.pk}/timeline/") == few


def test_the_service_list_prefetches_dependencies(signed_in, team, django_assert_max_num_queries):
    for service in ServiceFactory.create_batch(10, team=team):
        service.depends_on.add(ServiceFactory())

    # session, user, count, page, dependencies
    with django_assert_max_num_queries(AUTH_QUERIES + 3):
        signed_in.get("/api/services/")


@pytest.mark.postgres
def test_title_search_has_a_trigram_index_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'incident_title_trgm_idx'")
        (definition,) = cursor.fetchone()

    # The expression must be the one `title__icontains` compiles to, or the planner ignores it.
    assert "gin (upper((title)::text) gin_trgm_ops)" in definition
