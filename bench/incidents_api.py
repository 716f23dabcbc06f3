"""Incidents API latency on a production-sized PostgreSQL: 100,000 incidents, 1,000,000 events.

    python bench/incidents_api.py [--database-url URL] [--requests 200] [--reseed]

Uses ``DATABASE_URL`` or ``postgres://postgres@127.0.0.1:5432/rs_bench``: creates the database
if missing, migrates it and seeds it once with COPY (about a minute); later runs reuse the data
(``--reseed`` starts over). It refuses a database that holds incidents it did not seed.

Then it times each endpoint through Django's test client with the whole middleware stack and
JWT authentication, as a member of one team of eight (the scoped queries) and as staff:
``--requests`` timed requests after 10 warm-up ones. Prints p50/p95 per endpoint as a table,
and, last, one JSON line. Target: p95 ≤ 50 ms on every endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/rs_bench"
INCIDENTS = 100_000
EVENTS_PER_INCIDENT = 10
TEAMS, SERVICES_PER_TEAM = 8, 25
TARGET_P95_MS = 50.0
WARMUP = 10
MARKER_TEAM = "bench-team-0"

SEVERITIES = [("critical", 5), ("high", 20), ("medium", 45), ("low", 30)]
PROBLEMS = [
    "error rate above 5%",
    "p99 latency above 2 s",
    "pods crash-looping",
    "disk almost full",
    "queue backlog growing",
    "5xx from upstream",
    "connection pool exhausted",
    "certificate expires soon",
]
EVENT_KINDS = ["signal_repeated", "comment", "correlation_found", "hypothesis_created", "step_completed"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    _create_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-of-at-least-32-bytes")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliability_studio.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    seeded = _seed(reseed=args.reseed)
    if seeded:
        print(
            f"seeded {INCIDENTS:,} incidents and {INCIDENTS * EVENTS_PER_INCIDENT:,} events "
            f"in {time.perf_counter() - started:.0f} s"
        )
    setup_test_environment()  # lets the test client's "testserver" host through ALLOWED_HOSTS
    results = _measure(args.requests)
    _report(results)
    return 0 if all(r["p95_ms"] <= TARGET_P95_MS for r in results.values() if r["target"]) else 1


# --- database ------------------------------------------------------------------------------------


def _create_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _seed(*, reseed: bool) -> bool:
    from django.db import connection, transaction

    from incidents.models import Incident, Team

    marked = Team.objects.filter(slug=MARKER_TEAM).exists()
    if Incident.objects.exists() and not marked:
        raise SystemExit("This database holds incidents that the benchmark did not seed: pick another one.")
    if marked and not reseed and Incident.objects.count() >= INCIDENTS:
        return False

    rng = random.Random(42)
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE incidents_timelineevent, incidents_incident, incidents_service_depends_on, "
            "incidents_service, incidents_team_members, incidents_team RESTART IDENTITY CASCADE"
        )
        user_ids = _seed_people_and_services(cursor)
        raw = cursor.connection  # psycopg's own connection: COPY is ten times faster than INSERT
        services = list(range(1, TEAMS * SERVICES_PER_TEAM + 1))
        incidents = _incident_rows(rng, now, services, user_ids)
        with raw.cursor().copy(
            "COPY incidents_incident (id, title, description, severity, status, service_id, fingerprint, source, "
            "labels, detected_at, acknowledged_at, acknowledged_by_id, mitigated_at, resolved_at, resolution_note, "
            "false_positive, last_seen_at, signal_count, impact) FROM STDIN"
        ) as copy:
            for row in incidents:
                copy.write_row(row)
        with raw.cursor().copy(
            "COPY incidents_timelineevent (incident_id, at, kind, actor_id, actor_name, message, data) FROM STDIN"
        ) as copy:
            for row in _event_rows(rng, incidents, user_ids):
                copy.write_row(row)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'), "
            "(SELECT max(id) FROM incidents_incident))"
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # fresh statistics for the planner, as autovacuum would give
    return True


def _seed_people_and_services(cursor: Any) -> dict[str, int]:
    from django.contrib.auth import get_user_model

    from incidents.models import Service, Team

    user_model = get_user_model()
    member, _ = user_model.objects.get_or_create(username="bench-member")
    staff, _ = user_model.objects.update_or_create(username="bench-staff", defaults={"is_staff": True})
    for team_number in range(TEAMS):
        team = Team.objects.create(name=f"Bench team {team_number}", slug=f"bench-team-{team_number}")
        if team_number == 0:
            team.members.add(member)
        Service.objects.bulk_create(
            Service(
                name=f"service {team_number}-{number}",
                slug=f"bench-service-{team_number}-{number}",
                team=team,
                telemetry_labels={"service": f"svc-{team_number}-{number}"},
            )
            for number in range(SERVICES_PER_TEAM)
        )
    return {"member": member.pk, "staff": staff.pk}


def _incident_rows(rng: random.Random, now: datetime, services: list[int], users: dict[str, int]) -> list[tuple]:
    severities = [name for name, weight in SEVERITIES for _ in range(weight)]
    rows = []
    span = timedelta(days=365).total_seconds()
    times = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(INCIDENTS))
    for number, detected in enumerate(times, start=1):
        service = rng.choice(services)
        roll = rng.random()
        # The last day holds the unresolved ones, as in real life; older ones are resolved.
        recent = now - detected < timedelta(days=1)
        status = (
            ("open" if roll < 0.4 else "investigating" if roll < 0.7 else "mitigated" if roll < 0.85 else "resolved")
            if recent
            else "resolved"
        )
        acknowledged = None if status == "open" else detected + timedelta(seconds=rng.randint(10, 1800))
        mitigated = (
            detected + timedelta(seconds=rng.randint(1800, 7200)) if status in {"mitigated", "resolved"} else None
        )
        resolved = mitigated + timedelta(seconds=rng.randint(60, 14400)) if status == "resolved" else None
        false_positive = status == "resolved" and rng.random() < 0.05
        rows.append(
            (
                number,
                f"service {service}: {rng.choice(PROBLEMS)}",
                "",
                rng.choice(severities),
                status,
                service,
                f"bench:{number}",
                "rule",
                json.dumps({"service": f"svc-{service}"}),
                detected,
                acknowledged,
                users["member"] if acknowledged else None,
                mitigated,
                resolved,
                "rolled back" if resolved else "",
                false_positive,
                max(filter(None, [detected, acknowledged, mitigated])),
                rng.randint(1, 50),
                "{}",
            )
        )
    return rows


def _event_rows(rng: random.Random, incidents: list[tuple], users: dict[str, int]):
    for row in incidents:
        incident_id, detected = row[0], row[9]
        yield (incident_id, detected, "detected", None, "detector", row[1], "{}")
        for step in range(1, EVENTS_PER_INCIDENT):
            kind = rng.choice(EVENT_KINDS)
            by_person = kind == "comment"
            yield (
                incident_id,
                detected + timedelta(minutes=step * 3),
                kind,
                users["member"] if by_person else None,
                "bench-member" if by_person else "detector",
                f"{kind.replace('_', ' ')} number {step}",
                json.dumps({"step": step}),
            )


# --- measuring -----------------------------------------------------------------------------------


def _measure(requests: int) -> dict[str, dict[str, Any]]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    from incidents.models import Incident, Service

    user_model = get_user_model()
    member = user_model.objects.get(username="bench-member")
    staff = user_model.objects.get(username="bench-staff")
    mine = Incident.objects.filter(service__team__members=member)
    recent = mine.order_by("-detected_at").values_list("pk", flat=True)[100]
    service = Service.objects.filter(team__members=member).order_by("pk").values_list("slug", flat=True).first()
    month_ago = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")

    as_member = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(member)}"}
    as_staff = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(staff)}"}
    cases = [
        ("list", "/api/incidents/", as_member, True),
        (
            "list ?status=resolved&severity=critical",
            "/api/incidents/?status=resolved&severity=critical",
            as_member,
            True,
        ),
        ("list ?status=open", "/api/incidents/?status=open", as_member, True),
        ("list ?service=…&since=30d", f"/api/incidents/?service={service}&since={month_ago}", as_member, True),
        ("list ?search=latency", "/api/incidents/?search=latency", as_member, True),
        ("list (staff) ?search=<no match>", "/api/incidents/?search=kernel+panic", as_staff, True),
        ("list (staff)", "/api/incidents/", as_staff, True),
        ("list (staff) ?severity=critical", "/api/incidents/?severity=critical", as_staff, True),
        ("detail", f"/api/incidents/{recent}/", as_member, True),
        ("timeline", f"/api/incidents/{recent}/timeline/", as_member, True),
        ("stats 30 days (staff)", "/api/incidents/stats/", as_staff, False),
    ]
    client = Client()
    results = {}
    for name, url, headers, target in cases:
        for _ in range(WARMUP):
            response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
        timings = []
        for _ in range(requests):
            start = time.perf_counter()
            client.get(url, **headers)
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        results[name] = {
            "url": url,
            "p50_ms": round(_percentile(timings, 0.5), 1),
            "p95_ms": round(_percentile(timings, 0.95), 1),
            "target": target,
        }
    return results


def _percentile(values: list[float], q: float) -> float:
    from incidents.analytics import percentile

    return percentile(values, q) or 0.0


def _report(results: dict[str, dict[str, Any]]) -> None:
    width = max(len(name) for name in results)
    print(f"{'endpoint':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}")
    for name, result in results.items():
        flag = "" if not result["target"] else ("  ok" if result["p95_ms"] <= TARGET_P95_MS else "  OVER TARGET")
        print(f"{name:<{width}}  {result['p50_ms']:>8.1f}  {result['p95_ms']:>8.1f}{flag}")
    summary = {
        "benchmark": "incidents_api",
        "incidents": INCIDENTS,
        "timeline_events": INCIDENTS * EVENTS_PER_INCIDENT,
        "target_p95_ms": TARGET_P95_MS,
        "endpoints": {name: {"p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"]} for name, r in results.items()},
        "ok": all(r["p95_ms"] <= TARGET_P95_MS for r in results.values() if r["target"]),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
