"""``publish``: the message, after commit, to the right groups, from any thread of the process."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import connections, transaction
from django.utils.dateparse import parse_datetime

from realtime import events
from realtime.events import publish
from realtime.payloads import incident_payload, incident_teams
from tests.factories import IncidentFactory
from tests.realtime.conftest import decode, open_socket, run, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[list[str], dict]]:
    records: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(events, "_send", lambda groups, message: records.append((groups, message)))
    return records


def test_an_incident_message_has_type_data_and_an_iso_timestamp(crew, sent):
    incident = IncidentFactory(service=crew.service, title="queue backlog")

    publish("incident_created", incident_payload(incident), teams=incident_teams(incident))

    [(groups, message)] = sent
    assert groups == ["staff", f"team.{crew.team.pk}"]
    assert set(message) == {"type", "data", "ts"}
    assert message["type"] == "incident_created"
    assert parse_datetime(message["ts"]).tzinfo is not None
    data = message["data"]
    assert {"id", "title", "severity", "status", "service", "detected_at", "acknowledged_at", "mitigated_at",
            "resolved_at", "url"} <= set(data)
    assert data["service"] == {"id": crew.service.pk, "slug": crew.service.slug, "name": crew.service.name}
    assert data["url"] == f"/incidents/{incident.pk}/"


def test_nothing_is_sent_before_commit_and_nothing_after_a_rollback(crew, sent):
    incident = IncidentFactory(service=crew.service)

    with pytest.raises(RuntimeError), transaction.atomic():
        publish("incident_updated", incident_payload(incident), teams=[crew.team.pk])
        raise RuntimeError("the write failed")
    assert sent == []

    with transaction.atomic():
        publish("incident_updated", incident_payload(incident), teams=[crew.team.pk])
        assert sent == []
    assert len(sent) == 1


def test_an_unknown_event_type_is_refused_at_once():
    with pytest.raises(ValueError, match="unknown realtime event type"):
        publish("incident_deleted", {}, teams=[])


def test_a_channel_layer_failure_after_commit_is_logged_and_does_not_fail_the_caller(crew, monkeypatch, caplog):
    def layer_down(groups, message):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(events, "_deliver", layer_down)

    with transaction.atomic():
        publish("alert", {"id": 1}, teams=[crew.team.pk])

    assert "redis is down" in caplog.text


def test_an_event_published_from_a_plain_thread_reaches_a_socket_of_the_embedded_server(
    crew, embedded_layer, live_server_in_thread, monkeypatch
):
    """The embedded beat thread publishes outside the server's loop; the event must still arrive
    at once, and the in-memory layer must only ever be touched on the server's loop."""
    server = live_server_in_thread
    incident = IncidentFactory(service=crew.service)
    threads_sending: list[str] = []
    real_group_send = InMemoryChannelLayer.group_send

    async def spying_group_send(layer, group, message):
        threads_sending.append(threading.current_thread().name)
        return await real_group_send(layer, group, message)

    monkeypatch.setattr(InMemoryChannelLayer, "group_send", spying_group_send)

    def beat_like_thread(published_at: list[float]) -> None:
        published_at.append(time.monotonic())
        try:
            publish("incident_updated", incident_payload(incident), teams=incident_teams(incident))
        finally:
            connections.close_all()  # as a worker thread does when it ends

    async def scenario():
        url = server.url(token=token_for(crew.member))
        async with websockets.connect(url, origin=server.origin) as socket:
            assert decode(await socket.recv())["type"] == "hello"
            published_at: list[float] = []
            thread = threading.Thread(target=beat_like_thread, args=(published_at,), name="beat")
            thread.start()
            message = decode(await asyncio.wait_for(socket.recv(), timeout=5))
            latency = time.monotonic() - published_at[0]
            thread.join(5)
            return message, latency

    message, latency = asyncio.run(scenario())

    assert message["data"]["id"] == incident.pk
    # Well under uvicorn's 100 ms housekeeping tick, which is what would wake a loop poked unsafely.
    assert latency < 0.5
    assert threads_sending and set(threads_sending) == {"uvicorn"}


def test_publishing_from_inside_the_server_loop_schedules_the_fan_out_there(crew, embedded_layer):
    incident = IncidentFactory(service=crew.service)
    message = events.build_message("incident_updated", incident_payload(incident))

    async def scenario():
        socket = await open_socket(crew.member)
        # What an async caller that skipped sync_to_async would do: no deadlock, delivered.
        events._send(incident_teams_groups(incident), message)
        received = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return received

    def incident_teams_groups(incident):
        from realtime.groups import groups_for_teams

        return groups_for_teams(incident_teams(incident))

    assert run(scenario)["data"]["id"] == incident.pk


def test_publishing_with_no_socket_ever_connected_is_harmless(crew, embedded_layer):
    incident = IncidentFactory(service=crew.service)

    async def scenario():
        await sync_to_async(publish)("incident_updated", incident_payload(incident), teams=[crew.team.pk])

    run(scenario)
