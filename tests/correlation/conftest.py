"""Real Prometheus + exporter (as detection's tests build them), fixture servers, and helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from detection.models import DataSource
from detection.sources.base import SourceConfig, SourceError
from detection.sources.prometheus import PrometheusClient
from tests.conftest import require_service
from tests.correlation.stubs import Stubs
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.support.fixture_http import FixtureServer, write_kubeconfig
from tests.support.prometheus import (
    ExporterProcess,
    PrometheusNotInstalled,
    PrometheusProcess,
    prometheus_binary,
    start_exporter,
    start_prometheus,
    wait_for,
)

K8S_TOKEN = "fixture-token"
CLEAN_SCRAPES = 14


@pytest.fixture(autouse=True)
def _fast_settings(settings) -> None:
    # Users are made per test; the production hasher's deliberate slowness only costs time here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A test's Prometheus holds seconds of data, not hours: keep range queries at a 1 s step.
    settings.CORRELATION_LOOKBACK_SECONDS = 300
    # Scraped every second, a 5 s rate window holds five samples, and a young series settles fast.
    settings.CORRELATION_RATE_WINDOW = "5s"
    settings.CORRELATION_COLLECTOR_TIMEOUT_SECONDS = 10


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Realtime messages as they leave after commit: [{"groups": [...], **message}]."""
    messages: list[dict[str, Any]] = []

    def record(groups: list[str], message: dict[str, Any]) -> None:
        messages.append({"groups": groups, **message})

    monkeypatch.setattr("realtime.events._send", record)
    return messages


@pytest.fixture
def stubs(monkeypatch) -> Stubs:
    """The four collectors, answering what the test says instead of asking sources."""
    found = Stubs()
    monkeypatch.setattr("correlation.services._collectors", lambda sources: found.all())
    return found


@pytest.fixture
def member(db):
    return UserFactory()


@pytest.fixture
def team(member):
    return TeamFactory(members=[member])


def make_shop(team: Any, exporter: ExporterProcess | None = None) -> dict[str, Any]:
    """frontend → checkout → payments, as Service.depends_on says.

    With an exporter, the services' series are that exporter's (its ``instance`` label): the
    scenarios share one Prometheus, each watching its own exporter.
    """
    def labels(slug: str) -> dict[str, str]:
        return {"service": slug, **({"instance": exporter.target} if exporter else {})}

    payments = ServiceFactory(name="payments", slug="payments", team=team, telemetry_labels=labels("payments"))
    checkout = ServiceFactory(name="checkout", slug="checkout", team=team, telemetry_labels=labels("checkout"))
    frontend = ServiceFactory(name="frontend", slug="frontend", team=team, telemetry_labels=labels("frontend"))
    checkout.depends_on.add(payments)
    frontend.depends_on.add(checkout)
    return {"payments": payments, "checkout": checkout, "frontend": frontend}


@pytest.fixture
def shop(team) -> dict[str, Any]:
    return make_shop(team)


def prometheus_source(url: str, **fields: Any) -> DataSource:
    return DataSource.objects.create(name="prometheus", kind="prometheus", url=url, timeout_seconds=5, **fields)


def loki_source(url: str) -> DataSource:
    return DataSource.objects.create(name="loki", kind="loki", url=url, timeout_seconds=3)


def kubernetes_source(kubeconfig_path: Path) -> DataSource:
    return DataSource.objects.create(
        name="cluster", kind="kubernetes", kubeconfig=str(kubeconfig_path), timeout_seconds=3
    )


@pytest.fixture
def k8s_server(tmp_path: Path) -> Iterator[tuple[FixtureServer, Path]]:
    with FixtureServer(hang_seconds=10) as server:
        server.require_token(K8S_TOKEN)
        yield server, write_kubeconfig(tmp_path / "kubeconfig", server.url, token=K8S_TOKEN)


@pytest.fixture
def loki_server() -> Iterator[FixtureServer]:
    with FixtureServer(hang_seconds=10) as server:
        yield server


# --------------------------------------------------------------------------------------------
# One real Prometheus per test process, scraping three exporters, one per scenario
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    prometheus: PrometheusProcess
    # checkout fails from ``failed_at`` on; payments stays fine.
    rollout: ExporterProcess
    # payments fails first, checkout seconds later.
    cascade: ExporterProcess
    # nothing ever happens.
    quiet: ExporterProcess
    failed_at: float = 0.0



@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Scenarios play out once per test process, side by side, on their own exporters."""
    try:
        prometheus_binary()
    except PrometheusNotInstalled as exc:
        require_service(str(exc))
    exporters = [start_exporter(requests_per_second=20.0) for _ in range(3)]
    rollout, cascade, quiet = exporters
    try:
        prom = start_prometheus([e.target for e in exporters], tmp_path_factory.mktemp("prometheus"))
        try:
            wait_for_scrapes(prom, CLEAN_SCRAPES, targets=len(exporters))
            failed_at = time.time()
            rollout.set(service="checkout", error_rate=0.5)
            cascade.set(service="payments", error_rate=0.4)
            wait_for_errors(prom, rollout, "checkout")
            wait_for_errors(prom, cascade, "payments")
            time.sleep(4)
            cascade.set(service="checkout", error_rate=0.4)
            wait_for_errors(prom, cascade, "checkout")
            time.sleep(3)  # a few points past the onset: one point outside the band is a blip
            yield World(prom, rollout, cascade, quiet, failed_at)
        finally:
            prom.stop()
    finally:
        for exporter in exporters:
            exporter.stop()


def wait_for_scrapes(prom: PrometheusProcess, count: int, *, targets: int, timeout: float = 40.0) -> None:
    """Until Prometheus holds ``count`` scrapes of every target: a clean baseline at 1 s."""

    def enough() -> bool:
        try:
            samples = PrometheusClient(SourceConfig(url=prom.url)).instant('count_over_time(up{job="exporter"}[5m])')
        except SourceError:
            return False
        return len(samples) >= targets and min(s.value for s in samples) >= count

    wait_for(enough, timeout=timeout, interval=0.25, message=f"{count} scrapes of {targets} targets")


def wait_for_errors(prom: PrometheusProcess, exporter: ExporterProcess, service: str, timeout: float = 15.0) -> None:
    query = f'sum(rate(http_requests_total{{instance="{exporter.target}",service="{service}",code=~"5.."}}[5s]))'

    def visible() -> bool:
        samples = PrometheusClient(SourceConfig(url=prom.url)).instant(query)
        return bool(samples) and samples[0].value > 0

    wait_for(visible, timeout=timeout, interval=0.25, message=f"errors of {service} in Prometheus")
