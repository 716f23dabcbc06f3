"""One channel-layer member per process, fanning events out to that process's sockets.

With a channel per socket, every event costs each socket a layer receive, a decode, a task and
a dispatch, and joining costs each socket a round trip to Redis: a thousand sockets reconnecting
at once after a deploy exhaust the connection pool. Instead the process joins each group once,
receives each event once, and hands it to its local sockets' bounded outboxes, which is all the
per-socket work left. Sockets still only ever join groups their user is authorized for; the hub
just holds the process's single membership on their behalf.

A hub belongs to the event loop that serves the sockets (the in-memory layer's queues are that
loop's objects); tests that start a new loop get a new hub.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels.layers import get_channel_layer

from realtime import events

logger = logging.getLogger(__name__)

# channels_redis forgets a member after group_expiry (a day by default): renew well before.
RENEW_SECONDS = 600.0
# After the layer fails (Redis restarting), wait before receiving again, then rejoin every group:
# a restarted Redis has forgotten them.
RETRY_SECONDS = 1.0


class Sink(Protocol):
    def deliver(self, message: dict[str, Any]) -> None:
        """Take one event; must not block (a socket only queues it)."""


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        # Local sockets per group, changed synchronously so a cancelled socket never lingers.
        self.members: dict[str, set[Sink]] = {}
        # Groups this process's channel belongs to in the layer; changed under the lock, in order.
        self.joined: set[str] = set()
        self.lock = asyncio.Lock()
        self.channel: str | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def join(self, group: str, sink: Sink) -> None:
        self.members.setdefault(group, set()).add(sink)
        async with self.lock:
            if self.channel is None:
                await self._start()
            if group not in self.joined:
                await self.layer.group_add(group, self.channel)
                self.joined.add(group)

    def leave(self, group: str, sink: Sink) -> None:
        members = self.members.get(group)
        if members is None:
            return
        members.discard(sink)
        if not members:
            del self.members[group]
            # Leaving the layer's group waits on Redis: the hub does it, not the departing socket.
            self._spawn(self._leave_unused_groups())

    async def _leave_unused_groups(self) -> None:
        async with self.lock:
            for group in sorted(self.joined - set(self.members)):
                await self.layer.group_discard(group, self.channel)
                self.joined.discard(group)
            if not self.members and not self.joined:
                self._stop()

    async def _start(self) -> None:
        events.bind_server_loop()
        self.channel = await self.layer.new_channel()
        self._spawn(self._receive(self.channel))
        self._spawn(self._renew())

    def _stop(self) -> None:
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
        self.channel = None

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _receive(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the layer comes back; sockets must not die with it
                logger.exception("realtime hub: channel layer receive failed; retrying")
                await asyncio.sleep(RETRY_SECONDS)
                await self._rejoin()
                continue
            self._fan_out(message)

    def _fan_out(self, message: dict[str, Any]) -> None:
        members = self.members.get(message.get("group", ""))
        if not members:
            return
        for sink in tuple(members):
            try:
                sink.deliver(message)
            except Exception:  # noqa: BLE001 - one broken socket must not starve the others
                logger.exception("realtime hub: a socket failed to take an event")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            await self._rejoin()

    async def _rejoin(self) -> None:
        async with self.lock:
            for group in sorted(self.joined):
                try:
                    await self.layer.group_add(group, self.channel)
                except Exception:  # noqa: BLE001 - retried on the next renewal or failure
                    logger.exception("realtime hub: could not rejoin %s", group)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """The hub of the running loop and the current channel layer."""
    loop = asyncio.get_running_loop()
    layer = get_channel_layer()
    current = _hubs.get(loop)
    if current is None or current.layer is not layer:
        for stale in [known for known in _hubs if known.is_closed()]:
            del _hubs[stale]
        if current is not None:
            current._stop()
        current = _hubs[loop] = Hub(layer)
    return current
