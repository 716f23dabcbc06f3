"""The detection engine's own metrics, read from the database when ``/metrics`` is scraped.

Cycles run in Celery worker processes, so counters kept in memory there would never reach the
web process that serves ``/metrics`` (and would reset with every worker restart). The database
is the one place every process writes to, so this collector reads it at scrape time, with a
handful of aggregate queries and nothing that grows with the number of rules or alerts.
django_prometheus exports the default registry, where ``register_collector`` puts it once.

Counters are sums over ``DetectionCycle`` rows; should old cycles ever be pruned, Prometheus
sees that as a counter reset, which ``rate()`` handles.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    REGISTRY,
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from detection.models import Alert, AlertState, DataSource, DetectionCycle, DetectionRule

logger = logging.getLogger(__name__)

PREFIX = "reliability_detection"
LATENCY_WINDOW = timedelta(hours=24)
LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
ACTIVE_STATES = (AlertState.PENDING, AlertState.FIRING)


@dataclass
class _Snapshot:
    cycles: int = 0
    rules_evaluated: int = 0
    rule_errors: int = 0
    alerts_fired: int = 0
    incidents_opened: int = 0
    last_duration: float | None = None
    last_finished_at: datetime | None = None
    rules_enabled: int = 0
    rules_erroring: int = 0
    active: dict[str, int] = field(default_factory=dict)
    sources: list[tuple[str, str, bool, int]] = field(default_factory=list)
    latency_buckets: list[tuple[str, int]] = field(default_factory=list)
    latency_sum: float = 0.0


def _read(now: datetime) -> _Snapshot:
    totals = DetectionCycle.objects.aggregate(
        cycles=Count("id", filter=Q(finished_at__isnull=False)),
        rules_evaluated=Sum("rules_evaluated"),
        rule_errors=Sum("rules_errored"),
        alerts_fired=Sum("alerts_fired"),
        incidents_opened=Sum("incidents_opened"),
    )
    last = (
        DetectionCycle.objects.filter(finished_at__isnull=False)
        .order_by("-id")
        .only("started_at", "finished_at")
        .first()
    )
    rules = DetectionRule.objects.filter(enabled=True).aggregate(
        enabled=Count("id"), erroring=Count("id", filter=~Q(last_error=""))
    )
    active = dict(
        Alert.objects.filter(state__in=ACTIVE_STATES).values_list("state").annotate(n=Count("id")).order_by()
    )
    sources = [
        (s.name, s.kind, s.healthy, s.consecutive_failures)
        for s in DataSource.objects.filter(enabled=True).only("name", "kind", "consecutive_failures")
    ]
    recent = Alert.objects.filter(detection_latency_seconds__isnull=False, fired_at__gte=now - LATENCY_WINDOW)
    latency = recent.aggregate(
        total=Count("id"),
        sum=Sum("detection_latency_seconds"),
        **{f"le_{i}": Count("id", filter=Q(detection_latency_seconds__lte=b)) for i, b in enumerate(LATENCY_BUCKETS)},
    )
    buckets = [(_le(b), latency[f"le_{i}"]) for i, b in enumerate(LATENCY_BUCKETS)]
    buckets.append(("+Inf", latency["total"]))
    return _Snapshot(
        cycles=totals["cycles"] or 0,
        rules_evaluated=totals["rules_evaluated"] or 0,
        rule_errors=totals["rule_errors"] or 0,
        alerts_fired=totals["alerts_fired"] or 0,
        incidents_opened=totals["incidents_opened"] or 0,
        last_duration=last.duration_seconds if last else None,
        last_finished_at=last.finished_at if last else None,
        rules_enabled=rules["enabled"],
        rules_erroring=rules["erroring"],
        active={state: active.get(state, 0) for state in ACTIVE_STATES},
        sources=sources,
        latency_buckets=buckets,
        latency_sum=latency["sum"] or 0.0,
    )


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"


class DetectionCollector(Collector):
    """Detection cycles, alerts, source health and detection latency, from the database."""

    def describe(self) -> list[Metric]:
        # Without describe(), registering would call collect() and query the database while
        # Django is still loading apps.
        return list(self._families(None, ok=True))

    def collect(self) -> Iterator[Metric]:
        try:
            snapshot = _read(timezone.now())
        except DatabaseError:
            # /metrics must still answer (the request metrics and this "up" gauge say why).
            logger.exception("reading detection metrics from the database failed")
            yield GaugeMetricFamily(f"{PREFIX}_metrics_up", "1 if detection metrics could be read.", value=0)
            return
        yield from self._families(snapshot, ok=True)

    def _families(self, s: _Snapshot | None, *, ok: bool) -> Iterator[Metric]:
        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value if s else None)

        def gauge(
            name: str, doc: str, value: float | None = None, labels: list[str] | None = None
        ) -> GaugeMetricFamily:
            if labels is not None:
                return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
            return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value if s else None)

        yield gauge("metrics_up", "1 if detection metrics could be read.", 1 if ok else 0)
        yield counter("cycles", "Detection cycles finished.", s.cycles if s else 0)
        yield counter("rules_evaluated", "Rule evaluations that succeeded.", s.rules_evaluated if s else 0)
        yield counter("rule_errors", "Rule evaluations that failed (source or rule error).", s.rule_errors if s else 0)
        yield counter("alerts_fired", "Alerts that went to firing.", s.alerts_fired if s else 0)
        yield counter("incidents_opened", "Incidents opened by detection.", s.incidents_opened if s else 0)
        if s is None or s.last_duration is not None:
            yield gauge("last_cycle_duration_seconds", "Duration of the last finished cycle.",
                        s.last_duration if s else 0)
        if s is None or s.last_finished_at is not None:
            yield gauge("last_cycle_finished_timestamp_seconds", "When the last cycle finished (Unix time).",
                        s.last_finished_at.timestamp() if s and s.last_finished_at else 0)
        yield gauge("rules_enabled", "Enabled rules.", s.rules_enabled if s else 0)
        yield gauge("rules_erroring", "Enabled rules whose last evaluation failed.", s.rules_erroring if s else 0)

        active = gauge("active_alerts", "Alerts pending or firing.", labels=["state"])
        source_up = gauge("source_up", "1 if the source answered at its last use, else 0.", labels=["source", "kind"])
        failures = gauge("source_consecutive_failures", "Failed uses of the source in a row.",
                         labels=["source", "kind"])
        if s is not None:
            for state, count in s.active.items():
                active.add_metric([state], count)
            for name, kind, healthy, consecutive in s.sources:
                source_up.add_metric([name, kind], 1 if healthy else 0)
                failures.add_metric([name, kind], consecutive)
        yield from (active, source_up, failures)
        # A gauge histogram: it covers the alerts fired in a sliding window, so it can go down.
        yield GaugeHistogramMetricFamily(
            f"{PREFIX}_latency_seconds",
            f"First breaching evaluation to incident committed, for alerts fired in the last "
            f"{LATENCY_WINDOW.total_seconds() / 3600:g} h.",
            buckets=s.latency_buckets if s else None,
            gsum_value=s.latency_sum if s else None,
        )


_registered: DetectionCollector | None = None
_lock = threading.Lock()


def register_collector(registry: CollectorRegistry = REGISTRY) -> DetectionCollector:
    """Register the collector once per process (``DetectionConfig.ready``); later calls reuse it."""
    global _registered
    with _lock:
        if _registered is None:
            collector = DetectionCollector()
            registry.register(collector)
            _registered = collector
        return _registered
