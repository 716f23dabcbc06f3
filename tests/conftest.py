"""Fixtures shared by the whole suite: real services, or a skip (a failure under CI)."""

from __future__ import annotations

import os
import socket

import pytest
import redis as redis_lib

REQUIRE_SERVICES = os.environ.get("RS_REQUIRE_SERVICES") == "1"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def require_service(reason: str) -> None:
    """Skip locally when a service is missing; under RS_REQUIRE_SERVICES=1 that is a failure."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Parallel workers share one Redis: keep their groups, cache keys and locks apart.
    for layer in settings.CHANNEL_LAYERS.values():
        layer.setdefault("CONFIG", {})["prefix"] = f"rs-test-{WORKER}"
    if "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        settings.CHANNEL_LAYERS["default"].pop("CONFIG")
    for cache in settings.CACHES.values():
        cache["KEY_PREFIX"] = f"rs-test-{WORKER}"


@pytest.fixture(autouse=True)
def _service_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            require_service("PostgreSQL (set DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("redis"):
        request.getfixturevalue("redis_url")


@pytest.fixture(autouse=True)
def _celery_eager(request: pytest.FixtureRequest):
    """Unit tests run tasks in-process; tests that start real workers opt out with `real_celery`."""
    from reliability_studio.celery import app

    if "real_celery" in request.fixturenames:
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def real_celery() -> None:
    """Marker fixture: tasks go through the real broker to real workers."""


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis_lib.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis_lib.RedisError as exc:
        require_service(f"Redis at {url}: {exc}")
    return url


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    """The prometheus binary (Debian's package); a skip locally, a failure in CI, without it."""
    from tests.support.prometheus import PrometheusNotInstalled, prometheus_binary

    try:
        return prometheus_binary()
    except PrometheusNotInstalled as exc:
        require_service(str(exc))
        raise  # unreachable: require_service always raises


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
