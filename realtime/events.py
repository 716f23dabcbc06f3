"""The one way events leave the app: ``publish(event_type, data, teams=...)``, after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from realtime import metrics
from realtime.groups import groups_for_teams
from realtime.payloads import layer_message, socket_message

EVENT_TYPES = frozenset({"incident_created", "incident_updated", "correlation_found", "alert"})

# A publisher waits this long for an in-process fan-out before giving up on it (and logging).
IN_PROCESS_DELIVERY_TIMEOUT_SECONDS = 10.0

# The event loop that serves this process's sockets, recorded when its hub starts. Only the
# in-memory layer needs it: its queues are plain asyncio objects of that loop.
_server_loop: asyncio.AbstractEventLoop | None = None
# Strong references to fan-outs scheduled from inside the server loop, so none is collected early.
_in_flight: set[asyncio.Task[None]] = set()


def build_message(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown realtime event type {event_type!r}")
    return socket_message(event_type, data)


def publish(event_type: str, data: dict[str, Any], *, teams: Iterable[int]) -> None:
    """Send ``data`` to the given teams' sockets (and staff) once the current transaction commits.

    A rolled-back transaction sends nothing; outside a transaction it sends at once. A channel
    layer that is down loses the event (logged) but never fails the write that already committed;
    a client that reconnects with ``?since=`` still gets the incident's timeline entries.
    """
    message = build_message(event_type, data)
    groups = groups_for_teams(teams)

    def send_after_commit() -> None:
        _send(groups, message)

    # A named function, not a partial: Django names the callback when it logs a failure.
    transaction.on_commit(send_after_commit, robust=True)


def _send(groups: list[str], message: dict[str, Any]) -> None:
    """Encode once and fan out. Tests of publishing apps replace this to record what leaves."""
    _deliver(groups, layer_message(message))
    metrics.EVENTS_PUBLISHED.labels(type=message["type"]).inc()


def bind_server_loop() -> None:
    """Record the running loop as the one serving sockets in this process (see ``_deliver``)."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def _deliver(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _in_memory_server_loop(layer)
    if loop is None:
        async_to_sync(_group_send)(layer, groups, message)
        return
    # The in-memory layer's queues belong to the server loop. Putting into them from another
    # thread (the embedded beat thread, a plain thread) does not wake that loop: the socket would
    # see the event only when something else woke it. So the fan-out runs on the server loop.
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(_group_send(layer, groups, message))
        _in_flight.add(task)
        task.add_done_callback(_in_flight.discard)
        return
    future = asyncio.run_coroutine_threadsafe(_group_send(layer, groups, message), loop)
    future.result(timeout=IN_PROCESS_DELIVERY_TIMEOUT_SECONDS)


def _in_memory_server_loop(layer: Any) -> asyncio.AbstractEventLoop | None:
    if not isinstance(layer, InMemoryChannelLayer):
        return None
    loop = _server_loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


async def _group_send(layer: Any, groups: list[str], message: dict[str, Any]) -> None:
    """The only caller of ``group_send``."""
    for group in groups:
        # A process receives an event once per group it belongs to; the group tells it whose
        # sockets the copy is for (see realtime.hub).
        await layer.group_send(group, {**message, "group": group})
