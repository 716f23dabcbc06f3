"""Fixtures for the investigation tests: a team with a shop of services, an API client, sources
(a real Prometheus scraping a real exporter; canned Loki and Kubernetes servers), and a record
of realtime events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from detection.models import DataSource
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.support.fixture_http import FixtureServer, write_kubeconfig
from tests.support.prometheus import (
    ExporterProcess,
    PrometheusProcess,
    start_exporter,
    start_prometheus,
    wait_for,
)

K8S_TOKEN = "fixture-token"
# What the scenario's exporter simulates for checkout: an exhausted connection pool makes
# requests wait (latency) and then time out (errors).
CHECKOUT_ERROR_RATE = 0.12
CHECKOUT_LATENCY_SECONDS = 0.8



@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Real Prometheus, as detection's tests run it ------------------------------------------------



@pytest.fixture(scope="module")
def exporter() -> Iterator[ExporterProcess]:
    with start_exporter(requests_per_second=20.0) as process:
        process.set(error_rate=CHECKOUT_ERROR_RATE, latency_seconds=CHECKOUT_LATENCY_SECONDS, service="checkout")
        yield process


@pytest.fixture(scope="module")
def prometheus(
    prometheus_bin: str, exporter: ExporterProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusProcess]:
    """One Prometheus per test module, scraping the exporter every second, with data in it."""
    prom = start_prometheus([exporter.target], tmp_path_factory.mktemp("prometheus"))
    try:
        wait_for(lambda: _has_scrapes(prom.url, 3), timeout=30, message=f"three scrapes of {exporter.target}")
        yield prom
    finally:
        prom.stop()


def _has_scrapes(url: str, count: int) -> bool:
    from detection.sources.base import SourceConfig, SourceError
    from detection.sources.prometheus import PrometheusClient

    try:
        samples = PrometheusClient(SourceConfig(url=url)).instant('count_over_time(up{job="exporter"}[1m])')
    except SourceError:
        return False
    return bool(samples) and samples[0].value >= count


# --- People, teams, services -------------------------------------------------------------------


@pytest.fixture
def member(db):
    return UserFactory(username="alice")


@pytest.fixture
def team(member):
    return TeamFactory(name="Shop", slug="shop", members=[member])


@pytest.fixture
def outsider(db):
    """A user of another team, who must not see ours."""
    other = UserFactory(username="mallory")
    TeamFactory(members=[other])
    return other


@pytest.fixture
def shop(team) -> dict[str, Any]:
    """frontend → checkout → payments (Service.depends_on), labelled as the exporter labels them."""
    payments = ServiceFactory(name="payments", slug="payments", team=team, telemetry_labels={"service": "payments"})
    checkout = ServiceFactory(name="checkout", slug="checkout", team=team, telemetry_labels={"service": "checkout"})
    frontend = ServiceFactory(name="frontend", slug="frontend", team=team, telemetry_labels={"service": "frontend"})
    checkout.depends_on.add(payments)
    frontend.depends_on.add(checkout)
    return {"payments": payments, "checkout": checkout, "frontend": frontend}


@pytest.fixture
def api(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member)
    return client


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Realtime messages as they leave after commit: [{"groups": [...], **message}]."""
    messages: list[dict[str, Any]] = []

    def record(groups: list[str], message: dict[str, Any]) -> None:
        messages.append({"groups": groups, **message})

    monkeypatch.setattr("realtime.events._send", record)
    return messages


# --- Sources -------------------------------------------------------------------------------------


def prometheus_source(url: str, **fields: Any) -> DataSource:
    return DataSource.objects.create(name="prometheus", kind="prometheus", url=url, timeout_seconds=5, **fields)


@pytest.fixture
def loki_server() -> Iterator[FixtureServer]:
    with FixtureServer(hang_seconds=10) as server:
        yield server


@pytest.fixture
def k8s_server(tmp_path: Path) -> Iterator[tuple[FixtureServer, Path]]:
    with FixtureServer(hang_seconds=10) as server:
        server.require_token(K8S_TOKEN)
        yield server, write_kubeconfig(tmp_path / "kubeconfig", server.url, token=K8S_TOKEN)
