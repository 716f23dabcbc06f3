"""``?since=``: a reconnecting client gets what it missed from the timeline, then the live stream."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from incidents.models import TimelineEvent, TimelineKind
from realtime import consumers
from realtime import selectors as realtime_selectors
from realtime.events import publish
from realtime.payloads import incident_event_payload, incident_payload, incident_teams
from tests.factories import IncidentFactory, TimelineEventFactory
from tests.realtime.conftest import open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def _since(moment) -> str:
    return quote(moment.isoformat())


def _drain(socket, count: int):
    async def receive():
        return [await socket.receive_json_from(timeout=5) for _ in range(count)]

    return receive()


def test_missed_events_are_replayed_oldest_first_then_live_ones_follow(crew):
    now = timezone.now()
    incident = IncidentFactory(service=crew.service, title="disk full")
    before = TimelineEventFactory(incident=incident, kind=TimelineKind.COMMENT, at=now - timedelta(minutes=10))
    detected = TimelineEventFactory(incident=incident, kind=TimelineKind.DETECTED, at=now - timedelta(minutes=5))
    acked = TimelineEventFactory(incident=incident, kind=TimelineKind.ACKNOWLEDGED, at=now - timedelta(minutes=4),
                                 message="on it")
    since = before.at

    async def scenario():
        socket = await open_socket(crew.member, query=f"&since={_since(since)}")
        replayed = await _drain(socket, 3)
        await sync_to_async(publish)("incident_updated", incident_payload(incident), teams=incident_teams(incident))
        live = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return replayed, live

    replayed, live = run(scenario)

    assert [(m["type"], m["data"]["event"]["id"]) for m in replayed[:2]] == [
        ("incident_created", detected.pk),
        ("incident_updated", acked.pk),
    ]
    second = replayed[1]
    assert second["data"]["id"] == incident.pk
    assert second["data"]["title"] == "disk full"
    assert second["data"]["event"] == {"id": acked.pk, "kind": "acknowledged", "message": "on it",
                                       "at": acked.at.isoformat()}
    assert second["ts"] == acked.at.isoformat()
    assert replayed[2] == {"type": "replay_done", "data": {"count": 2, "truncated": False}, "ts": replayed[2]["ts"]}
    assert live["type"] == "incident_updated"
    assert "event" not in live["data"]


def test_replay_holds_only_incidents_the_user_may_see(crew, other_crew):
    since = timezone.now() - timedelta(hours=1)
    ours = TimelineEventFactory(incident=IncidentFactory(service=crew.service))
    TimelineEventFactory(incident=IncidentFactory(service=other_crew.service))
    TimelineEventFactory(incident=IncidentFactory(service=None))

    async def scenario():
        socket = await open_socket(crew.member, query=f"&since={_since(since)}")
        messages = await _drain(socket, 2)
        await socket.disconnect()
        return messages

    first, done = run(scenario)

    assert first["data"]["event"]["id"] == ours.pk
    assert done["data"] == {"count": 1, "truncated": False}


def test_staff_replay_every_incident(crew, other_crew, staff):
    since = timezone.now() - timedelta(hours=1)
    events = [
        TimelineEventFactory(incident=IncidentFactory(service=crew.service)),
        TimelineEventFactory(incident=IncidentFactory(service=other_crew.service)),
        TimelineEventFactory(incident=IncidentFactory(service=None)),
    ]

    async def scenario():
        socket = await open_socket(staff, query=f"&since={_since(since)}")
        messages = await _drain(socket, 4)
        await socket.disconnect()
        return messages

    messages = run(scenario)

    assert [m["data"]["event"]["id"] for m in messages[:3]] == [event.pk for event in events]
    assert messages[3]["data"]["count"] == 3


def test_replay_stops_at_500_events_and_says_it_was_cut_short(crew):
    start = timezone.now() - timedelta(days=1)
    incident = IncidentFactory(service=crew.service)
    TimelineEvent.objects.bulk_create(
        TimelineEvent(incident=incident, kind=TimelineKind.COMMENT, at=start + timedelta(seconds=i), message=str(i))
        for i in range(1, 502)
    )

    async def scenario():
        socket = await open_socket(crew.member, query=f"&since={_since(start)}")
        messages = await _drain(socket, 501)
        await socket.disconnect()
        return messages

    messages = run(scenario)

    assert [m["data"]["event"]["message"] for m in messages[:500]] == [str(i) for i in range(1, 501)]
    assert messages[500]["type"] == "replay_done"
    assert messages[500]["data"] == {"count": 500, "truncated": True}


def test_a_bad_since_gets_an_error_and_the_live_stream_still_flows(crew):
    incident = IncidentFactory(service=crew.service)

    async def scenario():
        socket = await open_socket(crew.member, query="&since=last-tuesday")
        error = await socket.receive_json_from(timeout=5)
        await sync_to_async(publish)("incident_updated", incident_payload(incident), teams=incident_teams(incident))
        live = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return error, live

    error, live = run(scenario)

    assert error["type"] == "error"
    assert error["data"]["code"] == "bad_since"
    assert "last-tuesday" in error["data"]["detail"]
    assert live["data"]["id"] == incident.pk


def test_an_entry_arriving_both_replayed_and_live_is_sent_once_and_later_ones_follow_the_replay(crew, monkeypatch):
    since = timezone.now() - timedelta(minutes=1)
    incident = IncidentFactory(service=crew.service)
    committed = TimelineEventFactory(incident=incident, kind=TimelineKind.COMMENT)
    real_replay = realtime_selectors.replay_since
    later: list[TimelineEvent] = []

    def replay_racing_with_publishers(**kwargs):
        # The entry committed before the query is published while the socket replays...
        publish("incident_updated", incident_event_payload(committed), teams=incident_teams(incident))
        replay = real_replay(**kwargs)
        # ...and one committed after the query exists only live.
        later.append(TimelineEventFactory(incident=incident, kind=TimelineKind.STATUS_CHANGED))
        publish("incident_updated", incident_event_payload(later[0]), teams=incident_teams(incident))
        return replay

    monkeypatch.setattr(consumers, "replay_since", replay_racing_with_publishers)

    async def scenario():
        socket = await open_socket(crew.member, query=f"&since={_since(since)}")
        messages = await _drain(socket, 3)
        quiet = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return messages, quiet

    messages, quiet = run(scenario)

    assert [(m["type"], m["data"].get("event", {}).get("id")) for m in messages] == [
        ("incident_updated", committed.pk),
        ("replay_done", None),
        ("incident_updated", later[0].pk),
    ]
    assert quiet is True
