"""A realistic mid-outage state for page tests and screenshots: several incidents in every state,
alerts, rules and sources, plus another team's incident that must never show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from correlation.models import Correlation
from detection.models import AlertState
from incidents.models import Severity, Status, TimelineKind
from tests.detection.factories import AlertFactory, DataSourceFactory, DetectionCycleFactory, DetectionRuleFactory
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, TimelineEventFactory, UserFactory


@dataclass
class Showcase:
    user: Any
    team: Any
    checkout: Any
    critical: Any  # open, unacknowledged
    investigating: Any
    hidden: Any  # another team's incident
    firing_rule: Any


def seed_showcase(*, user: Any = None) -> Showcase:
    now = timezone.now()
    user = user or UserFactory(username="oncall")
    team = TeamFactory(name="Payments", slug="payments", members=[user])
    checkout = ServiceFactory(name="Checkout", slug="checkout", team=team)
    payments = ServiceFactory(name="Payments API", slug="payments-api", team=team)
    ledger = ServiceFactory(name="Ledger", slug="ledger", team=team)
    other_team = TeamFactory(name="Search", slug="search")
    search = ServiceFactory(name="Search", slug="search", team=other_team)

    critical = IncidentFactory(
        title="[critical] Checkout 5xx error rate above 20% — Checkout", severity=Severity.CRITICAL,
        service=checkout, detected_at=now - timedelta(minutes=3), signal_count=4,
        description="sum(rate(http_requests_total{code=~\"5..\"}[1m])) / sum(rate(http_requests_total[1m])) > 0.2",
    )
    for minutes, kind, actor, message in [
        (3, TimelineKind.DETECTED, "detector", "Checkout error rate fired: 0.23 > 0.2"),
        (2, TimelineKind.SIGNAL_REPEATED, "detector", "Checkout error rate still firing: 0.27"),
        (1, TimelineKind.COMMENT, user.username, "Deploy 2024.11.3 went out at 14:02; looking at the canary."),
    ]:
        TimelineEventFactory(incident=critical, kind=kind, actor_name=actor, message=message,
                             at=now - timedelta(minutes=minutes))
    for rank, (kind, source, title, detail, confidence) in enumerate([
        ("change", "kubernetes", "Deployment shop/checkout rolled out image 2024.11.3 two minutes before the errors",
         "ReplicaSet checkout-7f9c scaled up at 14:02:11; error rate rose at 14:03:40.", 0.82),
        ("metrics", "prometheus", "checkout 5xx ratio rose from 0.2% to 23%", "Onset 14:03:40, sustained step.", 0.64),
        ("logs", "loki", "New log pattern: NullPointerException in PaymentClient.authorize",
         "412 lines in 5 minutes, never seen in the baseline.", 0.41),
    ], start=1):
        Correlation.objects.create(incident=critical, kind=kind, key=f"{kind}:{rank}", source=source, title=title,
                                   detail=detail, confidence=confidence, rank=rank,
                                   is_root_cause_candidate=rank == 1)
    investigating = IncidentFactory(
        title="[high] Payments API p99 latency over 2 s — Payments API", severity=Severity.HIGH, service=payments,
        status=Status.INVESTIGATING, detected_at=now - timedelta(minutes=26),
        acknowledged_at=now - timedelta(minutes=24), acknowledged_by=user, commander=user,
    )
    IncidentFactory(
        title="[medium] Ledger consumer lag growing — Ledger", severity=Severity.MEDIUM, service=ledger,
        status=Status.MITIGATED, detected_at=now - timedelta(hours=2, minutes=5),
        acknowledged_at=now - timedelta(hours=2), mitigated_at=now - timedelta(hours=1, minutes=20),
    )
    # History for the insights page: a few weeks of resolved incidents, one false positive.
    for day, hours_to_resolve, severity, service, false_positive in [
        (1, 0.7, Severity.LOW, checkout, False), (3, 2.5, Severity.HIGH, payments, False),
        (4, 0.2, Severity.MEDIUM, ledger, True), (6, 1.1, Severity.CRITICAL, checkout, False),
        (9, 4.0, Severity.HIGH, payments, False), (12, 0.5, Severity.MEDIUM, checkout, False),
        (15, 1.8, Severity.LOW, ledger, False), (16, 0.9, Severity.HIGH, checkout, False),
        (21, 3.2, Severity.CRITICAL, payments, False), (26, 0.4, Severity.MEDIUM, ledger, False),
    ]:
        detected = now - timedelta(days=day, hours=3)
        IncidentFactory(
            title=f"[{severity}] Resolved incident on {service.name}", severity=severity, service=service,
            status=Status.RESOLVED, detected_at=detected, acknowledged_at=detected + timedelta(minutes=2 + day % 7),
            resolved_at=detected + timedelta(hours=hours_to_resolve), false_positive=false_positive,
        )
    hidden = IncidentFactory(title="Search index is stale (another team)", severity=Severity.CRITICAL, service=search)

    prometheus = DataSourceFactory(name="prometheus", url="http://prometheus.internal:9090", last_ok_at=now)
    loki = DataSourceFactory(
        name="loki", kind="loki", url="http://loki.internal:3100", consecutive_failures=3,
        last_error="GET /loki/api/v1/query_range: connection refused", last_error_at=now - timedelta(seconds=40),
        last_ok_at=now - timedelta(minutes=9),
    )
    firing_rule = DetectionRuleFactory(
        name="Checkout error rate", source=prometheus, service=checkout, severity=Severity.CRITICAL,
        threshold_value=0.2, last_value=0.27, last_evaluated_at=now - timedelta(seconds=12),
    )
    latency_rule = DetectionRuleFactory(
        name="Payments API p99 latency", source=prometheus, service=payments, severity=Severity.HIGH,
        query="histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        threshold_value=2.0, for_seconds=120, last_value=2.4, last_evaluated_at=now - timedelta(seconds=12),
    )
    DetectionRuleFactory(name="Ledger lag", source=prometheus, service=ledger, threshold_value=1000,
                         last_value=120, last_evaluated_at=now - timedelta(seconds=12))
    DetectionRuleFactory(name="Checkout error log burst", source=loki, service=checkout, rule_type="pattern",
                         pattern="ErrorBurst", query='{app="checkout"} |= "ERROR"',
                         last_error="loki unreachable: connection refused",
                         last_evaluated_at=now - timedelta(seconds=40))
    DetectionRuleFactory(name="Legacy queue depth", source=prometheus, enabled=False)
    AlertFactory(rule=firing_rule, value=0.27, active_since=now - timedelta(minutes=4), incident=critical,
                 message="0.27 > 0.2")
    AlertFactory(rule=latency_rule, state=AlertState.PENDING, value=2.4, active_since=now - timedelta(seconds=50),
                 message="2.4 > 2")
    DetectionCycleFactory(started_at=now - timedelta(seconds=14), finished_at=now - timedelta(seconds=12),
                          rules_evaluated=4, rules_errored=1)
    return Showcase(user=user, team=team, checkout=checkout, critical=critical, investigating=investigating,
                    hidden=hidden, firing_rule=firing_rule)
