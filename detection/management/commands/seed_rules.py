"""``manage.py seed_rules [--source NAME]``: the detection rules every team wants on day one.

Idempotent by rule name: a rule that exists is left as it is, since operators tune thresholds
after seeding and a second run must not undo that. Rules need a source of their kind; the
Prometheus one comes from ``--source`` or from ``PROMETHEUS_URL``, the Kubernetes one from
``--source`` or the first enabled Kubernetes source. Rules without a source are skipped, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from detection.models import Comparator, DataSource, DetectionRule, RuleType, SourceKind
from incidents.models import Severity

PROMETHEUS_SOURCE_NAME = "Prometheus"

ERROR_RATIO = (
    'sum by (service) (rate(http_requests_total{code=~"5.."}[5m]))'
    " / sum by (service) (rate(http_requests_total[5m]))"
)
P95_LATENCY = "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))"
KSM_CRASH_LOOP = (
    "max by (namespace, pod, container) "
    '(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"})'
)
CRASH_LOOP_RUNBOOK = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping/"

SEED_RULES: list[dict[str, Any]] = [
    {
        "name": "High Error Rate",
        "source_kind": SourceKind.PROMETHEUS,
        "description": "More than 5 % of a service's requests fail with a 5xx status.",
        "rule_type": RuleType.THRESHOLD,
        "query": ERROR_RATIO,
        "comparator": Comparator.GT,
        "threshold_value": 0.05,
        "for_seconds": 120,
        "keep_firing_for_seconds": 60,
        "severity": Severity.HIGH,
        "labels": {"signal": "errors"},
        "annotations": {
            "summary": "5xx responses are above 5 % of requests.",
            "runbook_url": "https://sre.google/workbook/alerting-on-slos/",
        },
    },
    {
        "name": "High Latency",
        "source_kind": SourceKind.PROMETHEUS,
        "description": "A service's 95th percentile request duration is above one second.",
        "rule_type": RuleType.THRESHOLD,
        "query": P95_LATENCY,
        "comparator": Comparator.GT,
        "threshold_value": 1.0,
        "for_seconds": 300,
        "keep_firing_for_seconds": 60,
        "severity": Severity.MEDIUM,
        "labels": {"signal": "latency"},
        "annotations": {
            "summary": "p95 latency is above 1 s.",
            "runbook_url": "https://sre.google/sre-book/monitoring-distributed-systems/",
        },
    },
    {
        "name": "Pod Crash Loop",
        "source_kind": SourceKind.KUBERNETES,
        "description": "A container keeps crashing and Kubernetes backs off before restarting it.",
        "rule_type": RuleType.PATTERN,
        "pattern": "CrashLoopBackOff",
        "query": "",
        "for_seconds": 60,
        "keep_firing_for_seconds": 120,
        "severity": Severity.HIGH,
        "labels": {"signal": "saturation"},
        "annotations": {"summary": "A container is in CrashLoopBackOff.", "runbook_url": CRASH_LOOP_RUNBOOK},
    },
    {
        "name": "Pod Crash Loop (kube-state-metrics)",
        "source_kind": SourceKind.PROMETHEUS,
        "description": "The same as Pod Crash Loop, from kube-state-metrics, for clusters the studio cannot reach.",
        "rule_type": RuleType.THRESHOLD,
        "query": KSM_CRASH_LOOP,
        "comparator": Comparator.GT,
        "threshold_value": 0.0,
        "for_seconds": 60,
        "keep_firing_for_seconds": 120,
        "severity": Severity.HIGH,
        "labels": {"signal": "saturation"},
        "annotations": {"summary": "A container is in CrashLoopBackOff.", "runbook_url": CRASH_LOOP_RUNBOOK},
    },
]


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sources_created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def seed_rules(*, source_name: str | None = None) -> SeedReport:
    """Create the seed rules that do not exist yet; see the module docstring for sources."""
    report = SeedReport()
    chosen: DataSource | None = None
    if source_name:
        chosen = DataSource.objects.filter(name=source_name).first()
        if chosen is None:
            raise CommandError(f"No data source named {source_name!r}.")
    with transaction.atomic():
        sources = {
            SourceKind.PROMETHEUS: _prometheus_source(chosen, report),
            SourceKind.KUBERNETES: _kubernetes_source(chosen),
        }
        for spec in SEED_RULES:
            values = dict(spec)
            kind = values.pop("source_kind")
            name = values["name"]
            if DetectionRule.objects.filter(name=name).exists():
                report.kept.append(name)
                continue
            source = sources[kind]
            if source is None:
                report.skipped.append((name, _why_no_source(kind, chosen)))
                continue
            DetectionRule.objects.create(source=source, **values)
            report.created.append(name)
    return report


def _prometheus_source(chosen: DataSource | None, report: SeedReport) -> DataSource | None:
    if chosen is not None:
        return chosen if chosen.kind == SourceKind.PROMETHEUS else None
    url = (settings.PROMETHEUS_URL or "").rstrip("/")
    if not url:
        return None
    for source in DataSource.objects.filter(kind=SourceKind.PROMETHEUS):
        if source.url.rstrip("/") == url:
            return source
    existing = DataSource.objects.filter(name=PROMETHEUS_SOURCE_NAME).first()
    if existing is not None:
        report.notes.append(
            f"A source named {PROMETHEUS_SOURCE_NAME!r} exists with another URL ({existing.url}); "
            f"not creating one for PROMETHEUS_URL={url}. Use --source to pick a source."
        )
        return existing if existing.kind == SourceKind.PROMETHEUS else None
    source = DataSource.objects.create(name=PROMETHEUS_SOURCE_NAME, kind=SourceKind.PROMETHEUS, url=url)
    report.sources_created.append(source.name)
    return source


def _kubernetes_source(chosen: DataSource | None) -> DataSource | None:
    if chosen is not None:
        return chosen if chosen.kind == SourceKind.KUBERNETES else None
    return DataSource.objects.filter(kind=SourceKind.KUBERNETES, enabled=True).order_by("id").first()


def _why_no_source(kind: str, chosen: DataSource | None) -> str:
    if chosen is not None:
        return f"needs a {kind} source and --source {chosen.name} is {chosen.kind}"
    if kind == SourceKind.PROMETHEUS:
        return "needs a Prometheus source: set PROMETHEUS_URL or pass --source NAME"
    return "needs a Kubernetes source: add one (admin or API) or pass --source NAME"


class Command(BaseCommand):
    help = "Create the standard detection rules (error rate, latency, crash loops); idempotent by name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="Name of the data source to use for rules of its kind.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = seed_rules(source_name=options.get("source"))
        for name in report.sources_created:
            self.stdout.write(f"Created data source {name}.")
        for note in report.notes:
            self.stdout.write(self.style.WARNING(note))
        for name in report.created:
            self.stdout.write(self.style.SUCCESS(f"Created rule {name}."))
        for name in report.kept:
            self.stdout.write(f"Kept rule {name} (exists already).")
        for name, why in report.skipped:
            self.stdout.write(self.style.WARNING(f"Skipped rule {name}: {why}."))
