"""Fixtures for the realtime tests: users with teams, sockets, and a real server in this process."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from channels.testing import WebsocketCommunicator
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import free_port
from tests.factories import ServiceFactory, TeamFactory, UserFactory

# Other pytest sessions may share this Redis (and the per-worker prefix): keep this one's groups apart.
SESSION = uuid.uuid4().hex[:8]
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def private_channel_layer(settings) -> dict[str, Any]:
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    config = layers["default"].get("CONFIG")
    if config is not None and "prefix" in config:
        config["prefix"] = f"{config['prefix']}-{SESSION}"
    # Assigning through pytest-django's `settings` makes Channels build a fresh layer for the test.
    settings.CHANNEL_LAYERS = layers
    return layers["default"]


@pytest.fixture
def embedded_layer(settings, private_channel_layer) -> None:
    """The embedded default's layer, whatever REDIS_URL says."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def run(coroutine_function: Any, *args: Any) -> Any:
    """Run an async scenario from a sync test; database_sync_to_async then runs on this thread."""
    from asgiref.sync import async_to_sync

    return async_to_sync(coroutine_function)(*args)


def token_for(user: Any) -> str:
    return str(AccessToken.for_user(user))


@dataclass
class Crew:
    team: Any
    member: Any
    service: Any


@pytest.fixture
def crew(db) -> Crew:
    member = UserFactory()
    team = TeamFactory(members=[member])
    return Crew(team=team, member=member, service=ServiceFactory(team=team))


@pytest.fixture
def other_crew(db) -> Crew:
    member = UserFactory()
    team = TeamFactory(members=[member])
    return Crew(team=team, member=member, service=ServiceFactory(team=team))


@pytest.fixture
def staff(db) -> Any:
    return UserFactory(is_staff=True)


def communicator(path: str, *, headers: list[tuple[bytes, bytes]] | None = None, app: Any = None) -> Any:
    from reliability_studio.asgi import application

    return WebsocketCommunicator(app or application, path, headers=[ORIGIN, *(headers or [])])


async def open_socket(user: Any, *, path: str = "/api/realtime", query: str = "", app: Any = None) -> Any:
    """A connected socket whose `hello` has been read."""
    socket = communicator(f"{path}?token={token_for(user)}{query}", app=app)
    connected, _ = await socket.connect(timeout=5)
    assert connected
    hello = await socket.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    return socket


async def receive_until(socket: Any, wanted: str, *, timeout: float = 5) -> dict[str, Any]:
    """The next message of type `wanted`, skipping heartbeats and others on the way."""
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive_json_from(timeout=max(0.01, deadline - time.monotonic()))
        if message["type"] == wanted:
            return message


# --- A real server in this process ------------------------------------------------------------


@dataclass
class LiveServer:
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    def url(self, path: str = "/api/realtime", **query: str) -> str:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        return f"ws://127.0.0.1:{self.port}{path}" + (f"?{params}" if params else "")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def live_server_in_thread(transactional_db, settings) -> Iterator[LiveServer]:
    """Uvicorn serving the ASGI app on its own thread and loop, as `manage.py serve` does."""
    from reliability_studio.asgi import application

    # Connections opened on the server's threads would outlive the test and block dropping the
    # test database: close each one after use.
    db_settings = connections.settings["default"]
    previous_max_age = db_settings.get("CONN_MAX_AGE", 0)
    db_settings["CONN_MAX_AGE"] = 0
    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(port=port, server=server, thread=thread)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        db_settings["CONN_MAX_AGE"] = previous_max_age


def decode(raw: str | bytes) -> dict[str, Any]:
    return json.loads(raw)


async def gather_with_timeout(*aws: Any, timeout: float) -> list[Any]:
    async with asyncio.timeout(timeout):
        return await asyncio.gather(*aws)
