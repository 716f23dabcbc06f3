"""The process hub: one layer membership per group, local fan-out, cleanup when sockets leave."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer

from realtime import hub as hub_module
from realtime.hub import Hub


class Sink:
    def __init__(self, *, broken: bool = False) -> None:
        self.received: list[dict[str, Any]] = []
        self.broken = broken

    def deliver(self, message: dict[str, Any]) -> None:
        if self.broken:
            raise RuntimeError("this socket is broken")
        self.received.append(message)


class CountingLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    async def group_add(self, group: str, channel: str) -> None:
        self.calls.append(("add", group))
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.calls.append(("discard", group))
        await super().group_discard(group, channel)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_group_is_joined_once_per_process_and_left_when_its_last_socket_goes():
    async def scenario():
        layer = CountingLayer()
        hub = Hub(layer)
        first, second = Sink(), Sink()
        await hub.join("team.1", first)
        await hub.join("team.1", second)
        hub.leave("team.1", first)
        await _settle()
        calls_with_one_left = list(layer.calls)
        hub.leave("team.1", second)
        await _settle()
        return layer.calls, calls_with_one_left, hub

    calls, calls_with_one_left, hub = asyncio.run(scenario())

    assert calls_with_one_left == [("add", "team.1")]
    assert calls == [("add", "team.1"), ("discard", "team.1")]
    assert hub.members == {} and hub.joined == set() and hub.channel is None


def test_an_event_reaches_every_local_socket_of_its_group_only():
    async def scenario():
        layer = InMemoryChannelLayer()
        hub = Hub(layer)
        ours, also_ours, theirs = Sink(), Sink(), Sink()
        await hub.join("team.1", ours)
        await hub.join("team.1", also_ours)
        await hub.join("team.2", theirs)
        await layer.group_send("team.1", {"type": "event.message", "group": "team.1", "id": "a"})
        await _settle()
        return ours, also_ours, theirs

    ours, also_ours, theirs = asyncio.run(scenario())

    assert [m["id"] for m in ours.received] == ["a"]
    assert [m["id"] for m in also_ours.received] == ["a"]
    assert theirs.received == []


def test_one_broken_socket_does_not_keep_an_event_from_the_others(caplog):
    async def scenario():
        layer = InMemoryChannelLayer()
        hub = Hub(layer)
        broken, healthy = Sink(broken=True), Sink()
        await hub.join("staff", broken)
        await hub.join("staff", healthy)
        await layer.group_send("staff", {"type": "event.message", "group": "staff", "id": "b"})
        await _settle()
        return healthy

    healthy = asyncio.run(scenario())

    assert [m["id"] for m in healthy.received] == ["b"]
    assert "failed to take an event" in caplog.text


def test_a_failing_layer_is_retried_and_the_groups_rejoined(monkeypatch, caplog):
    monkeypatch.setattr(hub_module, "RETRY_SECONDS", 0.01)

    class FlakyLayer(CountingLayer):
        failures = 1

        async def receive(self, channel: str) -> dict[str, Any]:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("redis restarted")
            return await super().receive(channel)

    async def scenario():
        layer = FlakyLayer()
        hub = Hub(layer)
        sink = Sink()
        await hub.join("team.3", sink)
        await asyncio.sleep(0.1)
        await layer.group_send("team.3", {"type": "event.message", "group": "team.3", "id": "c"})
        await asyncio.sleep(0.05)
        return layer.calls, sink

    calls, sink = asyncio.run(scenario())

    assert calls == [("add", "team.3"), ("add", "team.3")]
    assert [m["id"] for m in sink.received] == ["c"]
    assert "receive failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_sockets_that_disconnect_leave_nothing_behind_in_the_hub(crew, staff):
    from tests.realtime.conftest import open_socket, run

    async def scenario():
        sockets = [await open_socket(crew.member), await open_socket(crew.member), await open_socket(staff)]
        current = hub_module.hub()
        during = {group: len(members) for group, members in current.members.items()}
        for socket in sockets:
            await socket.disconnect()
        await _settle()
        return during, current

    during, current = run(scenario)

    assert during == {f"team.{crew.team.pk}": 2, "staff": 1}
    assert current.members == {}
    assert current.joined == set()
