"""Real Prometheus + exporter, and the canned-response server, for the source client tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixture_http import FixtureServer, write_kubeconfig
from tests.support.prometheus import (
    ExporterProcess,
    PrometheusProcess,
    start_exporter,
    start_prometheus,
    wait_for,
)

K8S_TOKEN = "fixture-token"




@pytest.fixture(scope="module")
def exporter() -> Iterator[ExporterProcess]:
    with start_exporter(requests_per_second=20.0) as process:
        yield process


@pytest.fixture(scope="module")
def prometheus(
    prometheus_bin: str, exporter: ExporterProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusProcess]:
    """One Prometheus per test module, scraping the exporter every second, with data in it."""
    prom = start_prometheus([exporter.target], tmp_path_factory.mktemp("prometheus"))
    try:
        # Prometheus applies new scrape targets on a 5 s tick, so the first samples take a while.
        wait_for(
            lambda: _has_two_scrapes(prom.url),
            timeout=30,
            message=f"two scrapes of {exporter.target}",
        )
        yield prom
    finally:
        prom.stop()


def _has_two_scrapes(url: str) -> bool:
    from detection.sources.base import SourceConfig, SourceError
    from detection.sources.prometheus import PrometheusClient

    try:
        samples = PrometheusClient(SourceConfig(url=url)).instant('count_over_time(up{job="exporter"}[1m])')
    except SourceError:
        return False
    return bool(samples) and samples[0].value >= 2


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    with FixtureServer(hang_seconds=10) as server:
        yield server


@pytest.fixture
def kubeconfig(tmp_path: Path, fixture_server: FixtureServer) -> Path:
    fixture_server.require_token(K8S_TOKEN)
    return write_kubeconfig(tmp_path / "kubeconfig", fixture_server.url, token=K8S_TOKEN)
