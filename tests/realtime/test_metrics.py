"""/metrics shows connected clients, messages sent and slow-consumer disconnects."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from tests.realtime.conftest import open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def _scrape() -> dict[str, float]:
    body = Client().get("/metrics").content.decode()
    return {
        name: float(value)
        for name, value in re.findall(r"^(rs_realtime_[a-z_]+) ([0-9.e+-]+)$", body, flags=re.MULTILINE)
    }


def test_metrics_count_connected_clients_and_messages_sent(crew):
    before = _scrape()

    async def scenario():
        socket = await open_socket(crew.member)
        await socket.send_json_to({"action": "ping"})
        await socket.receive_json_from(timeout=5)
        during = await sync_to_async(_scrape)()
        await socket.disconnect()
        return during

    during = run(scenario)
    after = _scrape()

    assert {"rs_realtime_connected_clients", "rs_realtime_messages_sent_total",
            "rs_realtime_slow_consumer_disconnects_total"} <= set(before)
    assert during["rs_realtime_connected_clients"] == before["rs_realtime_connected_clients"] + 1
    assert during["rs_realtime_messages_sent_total"] >= before["rs_realtime_messages_sent_total"] + 2  # hello, pong
    assert after["rs_realtime_connected_clients"] == before["rs_realtime_connected_clients"]


def test_a_refused_socket_is_counted_and_never_counted_as_connected():
    from tests.realtime.conftest import communicator

    before = _scrape()

    async def scenario():
        socket = communicator("/api/realtime?token=forged")
        await socket.connect(timeout=5)
        await socket.receive_output(timeout=5)
        await socket.disconnect()

    run(scenario)
    after = _scrape()

    rejected = "rs_realtime_rejected_connections_total"
    assert after[rejected] == before.get(rejected, 0) + 1
    assert after["rs_realtime_connected_clients"] == before["rs_realtime_connected_clients"]
