"""Clients for the telemetry a team already has, behind one error family and small dataclasses.

``prometheus`` and ``loki`` speak HTTP through pooled ``requests`` sessions; ``kubernetes`` is the
only module importing the ``kubernetes`` package and is therefore not imported here, so a worker
that never evaluates Kubernetes rules does not pay for loading it.
"""

from __future__ import annotations

from detection.sources.base import (
    AccessDenied,
    BadQuery,
    BadResponse,
    ContainerState,
    KubeEvent,
    LogLine,
    PodState,
    Rollout,
    Sample,
    Series,
    SourceConfig,
    SourceError,
    SourceUnavailable,
    TransientSourceError,
)
from detection.sources.loki import LokiClient
from detection.sources.prometheus import PrometheusClient

__all__ = [
    "AccessDenied",
    "BadQuery",
    "BadResponse",
    "ContainerState",
    "KubeEvent",
    "LogLine",
    "LokiClient",
    "PodState",
    "PrometheusClient",
    "Rollout",
    "Sample",
    "Series",
    "SourceConfig",
    "SourceError",
    "SourceUnavailable",
    "TransientSourceError",
]
