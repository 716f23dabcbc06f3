"""The events socket through the whole ASGI stack: authentication, scope, messages, subscriptions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils.dateparse import parse_datetime
from rest_framework_simplejwt.tokens import AccessToken

from realtime import consumers
from realtime.events import publish
from realtime.payloads import incident_payload, incident_teams
from tests.factories import PASSWORD, IncidentFactory, ServiceFactory, UserFactory
from tests.realtime.conftest import communicator, open_socket, receive_until, run, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _publish_incident(incident, event_type: str = "incident_updated") -> None:
    publish(event_type, incident_payload(incident), teams=incident_teams(incident))


async def _refused(path: str, headers=None) -> tuple[bool, int, object]:
    socket = communicator(path, headers=headers)
    connected, _ = await socket.connect(timeout=5)
    close = await socket.receive_output(timeout=5)
    nothing_else = await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()
    return connected, close, nothing_else


@pytest.mark.parametrize("query", ["", "?token=not.a.jwt", "?token="])
def test_a_socket_without_valid_credentials_is_closed_with_4401_before_anything_is_sent(query):
    connected, close, nothing_else = run(_refused, f"/api/realtime{query}")

    # Accepted first, so that the close code reaches the client; then closed, nothing sent.
    assert connected is True
    assert close == {"type": "websocket.close", "code": 4401}
    assert nothing_else is True


def test_an_expired_token_is_closed_with_4401(crew):
    token = AccessToken.for_user(crew.member)
    token.set_exp(lifetime=-timedelta(seconds=1))

    connected, close, _ = run(_refused, f"/api/realtime?token={token}")

    assert close["code"] == 4401


def test_a_token_of_a_deactivated_user_is_closed_with_4401(crew):
    token = token_for(crew.member)
    crew.member.is_active = False
    crew.member.save(update_fields=["is_active"])

    _, close, _ = run(_refused, f"/api/realtime?token={token}")

    assert close["code"] == 4401


def test_hello_comes_first_with_server_time_and_the_users_scope(crew):
    async def scenario():
        socket = communicator(f"/ws/realtime?token={token_for(crew.member)}")
        assert (await socket.connect(timeout=5))[0]
        hello = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return hello

    hello = run(scenario)

    assert hello["type"] == "hello"
    assert parse_datetime(hello["data"]["server_time"]) is not None
    assert parse_datetime(hello["ts"]) is not None
    assert hello["data"]["user"] == {"id": crew.member.pk, "username": crew.member.username, "is_staff": False}
    assert hello["data"]["all_services"] is False
    assert hello["data"]["teams"] == [{"id": crew.team.pk, "slug": crew.team.slug, "name": crew.team.name}]
    assert hello["data"]["services"] == [{"id": crew.service.pk, "slug": crew.service.slug, "name": crew.service.name}]
    assert hello["data"]["heartbeat_seconds"] == 30
    assert hello["data"]["queue_size"] == 256


def test_a_session_cookie_authenticates_a_browser_socket(crew):
    browser = Client()
    assert browser.login(username=crew.member.username, password=PASSWORD)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()

    async def scenario():
        socket = communicator("/api/realtime", headers=[(b"cookie", cookie)])
        assert (await socket.connect(timeout=5))[0]
        hello = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return hello

    assert run(scenario)["data"]["user"]["id"] == crew.member.pk


def test_a_client_sees_its_teams_incidents_and_not_another_teams(crew, other_crew):
    ours = IncidentFactory(service=crew.service, title="ours")
    theirs = IncidentFactory(service=other_crew.service, title="theirs")

    async def scenario():
        socket = await open_socket(crew.member)
        await sync_to_async(_publish_incident)(theirs)
        await sync_to_async(_publish_incident)(ours)
        message = await socket.receive_json_from(timeout=5)
        quiet = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return message, quiet

    message, quiet = run(scenario)

    assert message["type"] == "incident_updated"
    assert message["data"]["id"] == ours.pk
    assert message["data"]["title"] == "ours"
    assert message["data"]["url"] == f"/incidents/{ours.pk}/"
    assert quiet is True


def test_staff_see_every_teams_incidents_and_those_without_a_service(crew, other_crew, staff):
    incidents = [
        IncidentFactory(service=crew.service),
        IncidentFactory(service=other_crew.service),
        IncidentFactory(service=None),
    ]

    async def scenario():
        socket = await open_socket(staff)
        for incident in incidents:
            await sync_to_async(_publish_incident)(incident)
        received = [await socket.receive_json_from(timeout=5) for _ in incidents]
        await socket.disconnect()
        return received

    received = run(scenario)

    assert [message["data"]["id"] for message in received] == [incident.pk for incident in incidents]


def test_an_event_for_two_of_the_users_teams_arrives_once(crew, other_crew):
    other_crew.team.members.add(crew.member)
    incident = IncidentFactory(service=crew.service)

    async def scenario():
        socket = await open_socket(crew.member)
        await sync_to_async(publish)("incident_updated", incident_payload(incident),
                                     teams=[crew.team.pk, other_crew.team.pk])
        first = await socket.receive_json_from(timeout=5)
        quiet = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return first, quiet

    first, quiet = run(scenario)

    assert first["data"]["id"] == incident.pk
    assert quiet is True


def test_a_ping_is_answered_with_a_pong_carrying_its_id(crew):
    async def scenario():
        socket = await open_socket(crew.member)
        await socket.send_json_to({"action": "ping", "id": 41})
        pong = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return pong

    pong = run(scenario)

    assert pong["type"] == "pong"
    assert pong["data"] == {"id": 41}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text_data": "{not json"}, "bad_json"),
        ({"text_data": "[1, 2]"}, "bad_json"),
        ({"bytes_data": b"\x00\x01"}, "bad_json"),
        ({"text_data": '{"action": "dance"}'}, "unknown_action"),
        ({"text_data": '{"nothing": "here"}'}, "unknown_action"),
        ({"text_data": '{"action": "subscribe", "types": ["nope"]}'}, "bad_subscription"),
    ],
)
def test_a_bad_client_message_gets_an_error_on_that_socket_only_and_both_stay_open(crew, frame, code):
    async def scenario():
        sender = await open_socket(crew.member)
        bystander = await open_socket(crew.member)
        await sender.send_to(**frame)
        error = await sender.receive_json_from(timeout=5)
        bystander_quiet = await bystander.receive_nothing(timeout=0.3)
        await sender.send_json_to({"action": "ping"})
        still_open = await sender.receive_json_from(timeout=5)
        await sender.disconnect()
        await bystander.disconnect()
        return error, bystander_quiet, still_open

    error, bystander_quiet, still_open = run(scenario)

    assert error["type"] == "error"
    assert error["data"]["code"] == code
    assert error["data"]["detail"]
    assert bystander_quiet is True
    assert still_open["type"] == "pong"


def test_subscribe_narrows_the_stream_to_the_chosen_services_and_types(crew):
    second = ServiceFactory(team=crew.team)
    on_first = IncidentFactory(service=crew.service)
    on_second = IncidentFactory(service=second)

    async def scenario():
        socket = await open_socket(crew.member)
        await socket.send_json_to({"action": "subscribe", "services": [second.slug], "types": ["incident_created"]})
        ack = await socket.receive_json_from(timeout=5)
        await sync_to_async(_publish_incident)(on_first, "incident_created")
        await sync_to_async(_publish_incident)(on_second, "incident_updated")
        await sync_to_async(_publish_incident)(on_second, "incident_created")
        received = await socket.receive_json_from(timeout=5)
        quiet = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return ack, received, quiet

    ack, received, quiet = run(scenario)

    assert ack["type"] == "subscribed"
    assert ack["data"] == {"services": [{"id": second.pk, "slug": second.slug, "name": second.name}],
                           "types": ["incident_created"], "ignored": []}
    assert (received["type"], received["data"]["id"]) == ("incident_created", on_second.pk)
    assert quiet is True


def test_subscribing_to_another_teams_service_is_ignored_and_never_widens_the_scope(crew, other_crew):
    theirs = IncidentFactory(service=other_crew.service)
    ours = IncidentFactory(service=crew.service)

    async def scenario():
        socket = await open_socket(crew.member)
        await socket.send_json_to({"action": "subscribe", "services": [other_crew.service.slug, other_crew.service.pk]})
        ack = await socket.receive_json_from(timeout=5)
        await sync_to_async(_publish_incident)(theirs)
        await sync_to_async(_publish_incident)(ours)
        quiet = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return ack, quiet

    ack, quiet = run(scenario)

    assert ack["data"]["services"] == []
    assert ack["data"]["ignored"] == [other_crew.service.slug, other_crew.service.pk]
    # Neither theirs (out of scope) nor ours (not in the narrowed list) arrives.
    assert quiet is True


def test_a_subscribe_without_lists_goes_back_to_everything_in_scope(crew):
    incident = IncidentFactory(service=crew.service)

    async def scenario():
        socket = await open_socket(crew.member)
        await socket.send_json_to({"action": "subscribe", "types": ["alert"]})
        await receive_until(socket, "subscribed")
        await socket.send_json_to({"action": "subscribe"})
        ack = await receive_until(socket, "subscribed")
        await sync_to_async(_publish_incident)(incident)
        received = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return ack, received

    ack, received = run(scenario)

    assert ack["data"] == {"services": None, "types": None, "ignored": []}
    assert received["data"]["id"] == incident.pk


def test_a_heartbeat_arrives_every_interval(crew, monkeypatch):
    monkeypatch.setattr(consumers.EventsConsumer, "heartbeat_seconds", 0.1)

    async def scenario():
        socket = await open_socket(crew.member)
        beats = [await socket.receive_json_from(timeout=2) for _ in range(2)]
        await socket.disconnect()
        return beats

    beats = run(scenario)

    assert [beat["type"] for beat in beats] == ["heartbeat", "heartbeat"]
    assert beats[0]["ts"] < beats[1]["ts"]


def test_an_alert_for_a_team_reaches_its_members(crew):
    async def scenario():
        socket = await open_socket(crew.member)
        await sync_to_async(publish)("alert", {"id": 5, "state": "firing", "service": {"id": crew.service.pk}},
                                     teams=[crew.team.pk])
        message = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return message

    message = run(scenario)

    assert message["type"] == "alert"
    assert message["data"]["state"] == "firing"


def test_a_user_without_teams_connects_and_sees_nothing():
    loner = UserFactory()
    incident = IncidentFactory()

    async def scenario():
        socket = communicator(f"/api/realtime?token={token_for(loner)}")
        assert (await socket.connect(timeout=5))[0]
        hello = await socket.receive_json_from(timeout=5)
        await sync_to_async(_publish_incident)(incident)
        quiet = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return hello, quiet

    hello, quiet = run(scenario)

    assert hello["data"]["teams"] == []
    assert quiet is True
