"""Pure rules of a socket's subscription and of ``?since=``: no database, no socket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from realtime.subscriptions import (
    MAX_SUBSCRIBED_SERVICES,
    BadRequest,
    Subscription,
    parse_since,
    parse_subscribe,
    resolve_services,
)

SERVICES = [{"id": 1, "slug": "checkout", "name": "Checkout"}, {"id": 2, "slug": "search", "name": "Search"}]


@pytest.mark.parametrize(
    ("subscription", "event_type", "service_id", "allowed"),
    [
        (Subscription(), "alert", None, True),
        (Subscription(), "incident_created", 7, True),
        (Subscription(types=frozenset({"alert"})), "alert", 1, True),
        (Subscription(types=frozenset({"alert"})), "incident_updated", 1, False),
        (Subscription(service_ids=frozenset({1})), "incident_updated", 1, True),
        (Subscription(service_ids=frozenset({1})), "incident_updated", 2, False),
        # An event about no known service cannot match a list of services.
        (Subscription(service_ids=frozenset({1})), "alert", None, False),
        # Subscribing to nothing in scope narrows to nothing, never back to everything.
        (Subscription(service_ids=frozenset()), "incident_created", 1, False),
        (Subscription(types=frozenset()), "incident_created", 1, False),
    ],
)
def test_a_subscription_lets_through_only_matching_types_and_services(subscription, event_type, service_id, allowed):
    assert subscription.allows(event_type, service_id) is allowed


@pytest.mark.parametrize(
    ("content", "services", "types"),
    [
        ({"action": "subscribe"}, None, None),
        ({"action": "subscribe", "services": []}, (), None),
        ({"action": "subscribe", "services": ["checkout", 2]}, ("checkout", 2), None),
        ({"action": "subscribe", "types": ["alert", "incident_created"]}, None,
         frozenset({"alert", "incident_created"})),
    ],
)
def test_a_subscribe_request_reads_services_and_types_and_absent_means_all(content, services, types):
    request = parse_subscribe(content)

    assert request.services == services
    assert request.types == types


@pytest.mark.parametrize(
    "content",
    [
        {"services": "checkout"},
        {"services": [None]},
        {"services": [True]},
        {"services": [""]},
        {"services": [{"id": 1}]},
        {"types": "alert"},
        {"types": ["alert", 3]},
        {"types": ["incident_deleted"]},
        {"services": list(range(MAX_SUBSCRIBED_SERVICES + 1))},
    ],
)
def test_a_malformed_subscribe_request_is_refused_with_a_reason(content):
    with pytest.raises(BadRequest) as excinfo:
        parse_subscribe({"action": "subscribe", **content})

    assert str(excinfo.value)


def test_services_resolve_by_slug_or_id_and_out_of_scope_ones_are_ignored():
    ids, matched, ignored = resolve_services(("checkout", 2, "billing", 99, 1), SERVICES)

    assert ids == frozenset({1, 2})
    assert [service["slug"] for service in matched] == ["checkout", "search"]
    assert ignored == ["billing", 99]


def test_services_entirely_out_of_scope_resolve_to_an_empty_set():
    ids, matched, ignored = resolve_services(("billing",), SERVICES)

    assert ids == frozenset()
    assert matched == []
    assert ignored == ["billing"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-01T10:00:00+00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00Z", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00.123456+00:00", datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        # An unencoded "+" arrives as a space.
        ("2025-03-01T10:00:00 02:00", datetime(2025, 3, 1, 10, tzinfo=timezone(timedelta(hours=2)))),
        ("2025-03-01 10:00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01", datetime(2025, 3, 1, tzinfo=UTC)),
    ],
)
def test_since_reads_iso_8601_and_takes_naive_times_as_utc(raw, expected):
    assert parse_since(raw) == expected


@pytest.mark.parametrize("raw", ["", "yesterday", "2025-13-01T00:00:00", "1700000000", "2025-03-01T25:00:00Z"])
def test_since_that_is_not_a_timestamp_is_refused(raw):
    with pytest.raises(BadRequest):
        parse_since(raw)
