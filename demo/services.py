"""Register the demo shop with the studio: team, services, Prometheus source, rules. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from detection.models import DataSource, DetectionRule, SourceKind
from incidents.models import Service, Team

TEAM = ("Shop", "shop")
# slug → (name, description, dependencies)
SERVICES = {
    "catalog": ("Catalog", "Product listing.", []),
    "payments": ("Payments", "Charges cards.", []),
    "checkout": ("Checkout", "Places orders; calls payments.", ["payments"]),
}
SOURCE_NAME = "demo-prometheus"


@dataclass(frozen=True)
class DemoRules:
    """How quickly the demo reacts: short windows so a newcomer sees an incident in a minute."""

    rate_window: str = "1m"
    for_seconds: int = 15
    interval_seconds: int | None = None


def demo_rules(window: str) -> list[dict]:
    return [
        {
            "name": "High Error Rate",
            "description": "More than 5 % of a service's requests fail.",
            "query": (
                f'sum by (service) (rate(http_requests_total{{code=~"5.."}}[{window}]))'
                f" / sum by (service) (rate(http_requests_total[{window}]))"
            ),
            "comparator": ">",
            "threshold_value": 0.05,
            "severity": "critical",
            "annotations": {"summary": "The share of 5xx answers is above 5 %."},
        },
        {
            "name": "High Latency",
            "description": "p95 latency above one second.",
            "query": (
                "histogram_quantile(0.95, sum by (service, le) "
                f"(rate(http_request_duration_seconds_bucket[{window}])))"
            ),
            "comparator": ">",
            "threshold_value": 1.0,
            "severity": "high",
            "annotations": {"summary": "95 % of requests are slower than this value (seconds)."},
        },
    ]


@transaction.atomic
def demo_setup(*, prometheus_url: str | None, rules: DemoRules = DemoRules()) -> Team:
    """Create or update everything the demo needs; running it twice changes nothing more."""
    team, _ = Team.objects.get_or_create(slug=TEAM[1], defaults={"name": TEAM[0]})
    team.members.add(*get_user_model().objects.filter(is_superuser=True))
    services: dict[str, Service] = {}
    for slug, (name, description, _) in SERVICES.items():
        services[slug], _ = Service.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "team": team, "description": description, "telemetry_labels": {"service": slug}},
        )
    for slug, (_, _, dependencies) in SERVICES.items():
        services[slug].depends_on.set([services[d] for d in dependencies])
    if prometheus_url:
        source, _ = DataSource.objects.update_or_create(
            name=SOURCE_NAME, defaults={"kind": SourceKind.PROMETHEUS, "url": prometheus_url, "enabled": True}
        )
        for spec in demo_rules(rules.rate_window):
            DetectionRule.objects.update_or_create(
                name=spec.pop("name"),
                source=source,
                defaults={
                    **spec,
                    "rule_type": "threshold",
                    "team": team,
                    "for_seconds": rules.for_seconds,
                    "evaluation_interval_seconds": rules.interval_seconds,
                    "enabled": True,
                },
            )
    return team
