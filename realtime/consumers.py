"""The events socket at /api/realtime (and /ws/realtime). It relays: authenticate on connect,
authorize groups, forward.

Protocol, every message ``{"type", "data", "ts"}``:

* connect with a session cookie or ``?token=<JWT>``; without valid credentials the socket is
  accepted and closed with 4401, nothing sent. ``?since=<ISO 8601>`` replays missed timeline
  entries (at most 500, oldest first), then ``replay_done`` {count, truncated}, then live events;
* ``hello`` first (server time, user, teams and services in scope, heartbeat interval), a
  ``heartbeat`` every 30 s, and the events: incident_created, incident_updated,
  correlation_found, alert;
* the client may send ``{"action": "ping", "id": ...}`` (answered by ``pong``) and
  ``{"action": "subscribe", "services": [slugs or ids], "types": [...]}`` (answered by
  ``subscribed``; narrows the stream, never widens it); anything else gets ``error``
  {code, detail} on that socket, which stays open;
* a client 256 messages behind is closed with 4408 and should reconnect with ``?since=``.

Events reach a socket through its process's hub (realtime.hub), which calls ``deliver``. Every
socket has a bounded outbox drained by its own writer task, and ``deliver`` only puts into it,
so a client that cannot keep up never blocks the hub or other clients: when its outbox is full
it is closed with 4408 and what it had not read is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from realtime import metrics, payloads
from realtime.groups import groups_for_member, may_join
from realtime.hub import Hub, hub
from realtime.selectors import REPLAY_LIMIT, SocketAccess, replay_since, services_in_scope, socket_access_for_user
from realtime.subscriptions import BadRequest, Subscription, parse_since, parse_subscribe, resolve_services

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_SLOW_CONSUMER = 4408
OUTBOX_SIZE = 256
HEARTBEAT_SECONDS = 30.0
# How long a 4408 close may wait for a stalled transport before the socket is simply dropped.
SLOW_CLOSE_TIMEOUT_SECONDS = 10.0
# Event ids remembered to drop the second copy of an event that reached us through two groups.
RECENT_IDS = 2048


class _RecentIds:
    def __init__(self, size: int) -> None:
        self._order: deque[str] = deque(maxlen=size)
        self._ids: set[str] = set()

    def add(self, event_id: str) -> bool:
        """True the first time an id is seen."""
        if event_id in self._ids:
            return False
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order[0])
        self._order.append(event_id)
        self._ids.add(event_id)
        return True


class EventsConsumer(AsyncWebsocketConsumer):
    # No channel per socket: the hub is the process's one member of the layer's groups.
    channel_layer_alias = None
    outbox_size = OUTBOX_SIZE
    heartbeat_seconds = HEARTBEAT_SECONDS
    slow_close_timeout_seconds = SLOW_CLOSE_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joined: list[str] = []
        self.hub: Hub | None = None
        self.counted = False
        self.closing = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=self.outbox_size)
        self.subscription = Subscription()
        self.recent = _RecentIds(RECENT_IDS)
        # While a replay runs, live events wait here (bounded like the outbox), then follow it.
        self.held: deque[dict[str, Any]] | None = None
        # Timeline entries already replayed: the same entry arriving live (it committed while we
        # joined and queried) is not sent twice. At most REPLAY_LIMIT ids per socket.
        self.replayed: set[int] = set()

    # --- Lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first: a close code only reaches the client on an open socket.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            metrics.REJECTED_CONNECTIONS.inc()
            return
        self.user = user
        self.access: SocketAccess = await database_sync_to_async(socket_access_for_user)(user=user)
        # Queued before joining, so that hello is first even if an event arrives while we join.
        self._enqueue(payloads.hello(
            user=user, all_services=self.access.is_staff, teams=self.access.teams, services=self.access.services,
            heartbeat_seconds=self.heartbeat_seconds, replay_limit=REPLAY_LIMIT, queue_size=self.outbox_size,
        ))
        since = self._query_param("since")
        since_at = None
        if since is not None:
            try:
                since_at = parse_since(since)
            except BadRequest as exc:
                self._enqueue(payloads.error("bad_since", str(exc)))
            else:
                # From the first join on, live events wait for the replay.
                self.held = deque()
        # Join before replaying: whatever commits from now on arrives live, and all before is in
        # the replay, so nothing falls between the two.
        self.hub = hub()
        for group in groups_for_member(is_staff=self.access.is_staff, team_ids=self.access.team_ids):
            if not may_join(group, is_staff=self.access.is_staff, team_ids=self.access.team_ids):
                continue
            self.joined.append(group)
            await self.hub.join(group, self)
        await self.accept()
        metrics.CONNECTED_CLIENTS.inc()
        self.counted = True
        self._spawn(self._write())
        if since_at is not None:
            self._spawn(self._replay(since_at))
        self._spawn(self._heartbeat())

    async def disconnect(self, code: int) -> None:
        self.closing = True
        for task in list(self.tasks):
            task.cancel()
        self._leave_groups()
        if self.counted:
            metrics.CONNECTED_CLIENTS.dec()
            self.counted = False

    def _leave_groups(self) -> None:
        joined, self.joined = self.joined, []
        for group in joined:
            self.hub.leave(group, self)

    # --- From the hub --------------------------------------------------------------------------

    def deliver(self, message: dict[str, Any]) -> None:
        if self.closing or not self.recent.add(message["id"]):
            return
        if message["timeline_event_id"] in self.replayed:
            return
        if not self.subscription.allows(message["event_type"], message["service_id"]):
            return
        if self.held is not None:
            if len(self.held) >= self.outbox_size:
                self._shed()
                return
            self.held.append(message)
            return
        self._enqueue(message["text"])

    # --- From the client -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            self._enqueue(payloads.error("bad_json", "send a JSON object such as {\"action\": \"ping\"}"))
            return
        action = content.get("action")
        if action == "ping":
            self._enqueue(payloads.pong(content.get("id")))
        elif action == "subscribe":
            await self._subscribe(content)
        else:
            self._enqueue(payloads.error("unknown_action", f"unknown action {action!r}; use subscribe or ping"))

    async def _subscribe(self, content: dict[str, Any]) -> None:
        try:
            request = parse_subscribe(content)
        except BadRequest as exc:
            self._enqueue(payloads.error("bad_subscription", str(exc)))
            return
        service_ids: frozenset[int] | None = None
        services: list[dict[str, Any]] | None = None
        ignored: list[Any] = []
        if request.services is not None:
            in_scope = await database_sync_to_async(services_in_scope)(user=self.user)
            service_ids, services, ignored = resolve_services(request.services, in_scope)
        self.subscription = Subscription(service_ids=service_ids, types=request.types)
        types = None if request.types is None else sorted(request.types)
        self._enqueue(payloads.subscribed(services=services, types=types, ignored=ignored))

    # --- Tasks ---------------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            text = await self.outbox.get()
            try:
                # Straight to the server: the session middleware's send wrapper has nothing to do
                # for a WebSocket frame, and this runs once per event per socket.
                await self.base_send({"type": "websocket.send", "text": text})
            except OSError:
                # The client is gone (uvicorn's ClientDisconnected); websocket.disconnect follows.
                return
            metrics.MESSAGES_SENT.inc()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            self._enqueue(payloads.heartbeat())

    async def _replay(self, since: Any) -> None:
        try:
            replay = await database_sync_to_async(replay_since)(user=self.user, since=since)
        except Exception:  # noqa: BLE001 - the live stream goes on; the client learns its history is missing
            logger.exception("realtime replay failed for user %s", self.user.pk)
            replay = None
            self._enqueue(payloads.error("replay_failed", "missed events could not be loaded; reload the page"))
        if replay is not None:
            self.replayed = {message["timeline_event_id"] for message in replay.messages}
            for message in replay.messages:
                if self.subscription.allows(message["event_type"], message["service_id"]):
                    # Awaiting put paces the replay to the client; live events wait in `held`.
                    await self.outbox.put(message["text"])
            await self.outbox.put(payloads.replay_done(count=len(replay.messages), truncated=replay.truncated))
        while self.held:
            message = self.held.popleft()
            if message["timeline_event_id"] not in self.replayed:
                await self.outbox.put(message["text"])
        # No await since the loop saw `held` empty: no live event can slip in between.
        self.held = None

    # --- Outbox --------------------------------------------------------------------------------

    def _enqueue(self, text: str) -> None:
        if self.closing:
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self._shed()

    def _shed(self) -> None:
        """Close a client that fell behind with 4408 and drop what it had not read."""
        if self.closing:
            return
        self.closing = True
        metrics.SLOW_CONSUMER_DISCONNECTS.inc()
        logger.info("realtime client %s fell %d messages behind: closing with %d",
                    getattr(self.user, "pk", None), self.outbox_size, CLOSE_SLOW_CONSUMER)
        self._spawn(self._close_slow())

    async def _close_slow(self) -> None:
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.held = None
        self._leave_groups()
        # The close frame queues behind what the transport already holds; a client that never
        # reads again never sees it, and then the server's keepalive ends the connection.
        with suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.close(code=CLOSE_SLOW_CONSUMER), self.slow_close_timeout_seconds)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _query_param(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get(name)
        return values[0] if values else None
