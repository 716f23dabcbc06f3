"""A client that falls behind is closed with 4408; memory stays bounded; others are not delayed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connections

from realtime import consumers, metrics
from realtime.events import publish
from realtime.payloads import incident_payload, incident_teams
from tests.factories import IncidentFactory
from tests.realtime.conftest import decode, open_socket, run, token_for

pytestmark = pytest.mark.django_db(transaction=True)



def _slow_disconnects() -> float:
    # Read our counter alone: collecting the whole registry would run other apps' collectors.
    return next(s.value for m in metrics.SLOW_CONSUMER_DISCONNECTS.collect() for s in m.samples
                if s.name.endswith("_total"))


class StalledTransport:
    """ASGI wrapper for a client that stopped reading: every frame it is sent waits forever,
    as a send does on a real server once the client's TCP window is full. A close still goes out."""

    def __init__(self, application) -> None:
        self.application = application
        self.sends_started = 0

    async def __call__(self, scope, receive, send):
        async def stalled_send(message):
            if message["type"] == "websocket.send":
                self.sends_started += 1
                await asyncio.Event().wait()
            await send(message)

        return await self.application(scope, receive, stalled_send)


def _publish_many(incident, count: int) -> None:
    data = incident_payload(incident)
    for sequence in range(count):
        publish("incident_updated", {**data, "sequence": sequence}, teams=incident_teams(incident))


def test_a_client_that_stops_reading_is_closed_with_4408_while_a_reader_gets_every_event(crew):
    from reliability_studio.asgi import application

    incident = IncidentFactory(service=crew.service)
    events = consumers.OUTBOX_SIZE + 44
    stalled = StalledTransport(application)
    slow_before = _slow_disconnects()

    async def scenario():
        reader = await open_socket(crew.member)
        slow = await _open_stalled(stalled, crew.member)
        await sync_to_async(_publish_many)(incident, events)
        received = [await reader.receive_json_from(timeout=10) for _ in range(events)]
        close = await slow.receive_output(timeout=10)
        await reader.disconnect()
        await slow.disconnect()
        return received, close

    received, close = run(scenario)

    assert [message["data"]["sequence"] for message in received] == list(range(events))
    assert close == {"type": "websocket.close", "code": 4408}
    # Only the hello reached the stalled transport; the rest waited in the bounded outbox.
    assert stalled.sends_started == 1
    assert _slow_disconnects() == slow_before + 1


async def _open_stalled(app, user):
    from tests.realtime.conftest import communicator

    slow = communicator(f"/api/realtime?token={token_for(user)}", app=app)
    connected, _ = await slow.connect(timeout=5)
    assert connected
    return slow


def test_a_client_within_its_queue_is_not_closed(crew):
    from reliability_studio.asgi import application

    incident = IncidentFactory(service=crew.service)
    stalled = StalledTransport(application)

    async def scenario():
        slow = await _open_stalled(stalled, crew.member)
        # The hello is in flight; 256 more fit in the queue.
        await sync_to_async(_publish_many)(incident, consumers.OUTBOX_SIZE)
        quiet = await slow.receive_nothing(timeout=0.5)
        await slow.disconnect()
        return quiet

    assert run(scenario) is True


def _reading_socket(port: int, *, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        # A small window so the server's buffers fill after kilobytes, not megabytes.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def test_over_real_tcp_a_stalled_reader_gets_4408_and_never_slows_a_fast_one(crew, live_server_in_thread):
    server = live_server_in_thread
    incident = IncidentFactory(service=crew.service)
    url = server.url(token=token_for(crew.member))
    # Enough bytes to fill the kernel's buffers, the transport's and then the 256-message outbox.
    events = 800
    padding = "x" * 8_000
    slow_before = _slow_disconnects()

    def publish_all() -> None:
        data = incident_payload(incident)
        try:
            for sequence in range(events):
                publish("incident_updated", {**data, "sequence": sequence, "padding": padding},
                        teams=incident_teams(incident))
        finally:
            connections.close_all()  # as a worker thread does when it ends

    async def scenario():
        # No compression: the padding must cost its size on the wire, as real payloads do.
        fast = await websockets.connect(url, origin=server.origin, compression=None,
                                        sock=_reading_socket(server.port))
        slow = await websockets.connect(url, origin=server.origin, compression=None, max_queue=1,
                                        sock=_reading_socket(server.port, receive_buffer=4096))
        assert decode(await fast.recv())["type"] == "hello"
        publisher = threading.Thread(target=publish_all, name="publisher")
        started = time.monotonic()
        publisher.start()
        sequences = []
        while len(sequences) < events:
            message = decode(await asyncio.wait_for(fast.recv(), timeout=30))
            if message["type"] == "incident_updated":
                sequences.append(message["data"]["sequence"])
        fast_done = time.monotonic() - started
        await asyncio.to_thread(publisher.join, 30)
        publish_seconds = time.monotonic() - started
        # The stalled client is closed as soon as its queue overflows; only now does it read.
        deadline = time.monotonic() + 10
        while _slow_disconnects() == slow_before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        slow_received = 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(slow.recv(), timeout=15)
                slow_received += 1
        await fast.close()
        return sequences, fast_done, publish_seconds, slow_received, closed.value

    sequences, fast_done, publish_seconds, slow_received, closed = asyncio.run(scenario())

    assert sequences == list(range(events))
    assert closed.rcvd is not None and closed.rcvd.code == 4408
    assert slow_received < events
    assert _slow_disconnects() == slow_before + 1
    # The fast reader kept pace with the publisher rather than waiting for the stalled one.
    assert fast_done <= publish_seconds + 2.0
