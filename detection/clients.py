"""Turn a DataSource row into its source client; the only place that bridges models and clients."""

from __future__ import annotations

from typing import Any

from detection.models import DataSource, SourceKind
from detection.sources import LokiClient, PrometheusClient, SourceConfig


def source_config(source: DataSource) -> SourceConfig:
    return SourceConfig(
        url=source.url,
        timeout_seconds=source.timeout_seconds,
        auth_token=source.auth_token,
        username=source.username,
        password=source.password,
        kubeconfig=source.kubeconfig,
        context=source.context,
        verify_tls=source.verify_tls,
    )


def client_for(source: DataSource) -> Any:
    """A Prometheus, Loki or Kubernetes client; each pools its connections per process."""
    config = source_config(source)
    if source.kind == SourceKind.PROMETHEUS:
        return PrometheusClient(config)
    if source.kind == SourceKind.LOKI:
        return LokiClient(config)
    if source.kind == SourceKind.KUBERNETES:
        # Imported here: loading the kubernetes package is slow and most workers never need it.
        from detection.sources.kubernetes import KubernetesClient

        return KubernetesClient(config)
    raise ValueError(f"unknown source kind {source.kind!r}")
