"""No Docker engine runs here: check the compose file against what the code expects."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_ENV = set(re.findall(r'env_\w+\("([A-Z_]+)"', (ROOT / "reliability_studio/settings.py").read_text()))


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_topology():
    services = _compose()["services"]

    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_each_process_runs_the_documented_command():
    services = _compose()["services"]

    assert services["web"]["command"][:2] == ["uvicorn", "reliability_studio.asgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "reliability_studio", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "reliability_studio", "beat"]


def test_studio_processes_set_only_variables_that_settings_read_and_all_the_required_ones():
    services = _compose()["services"]

    for name in ("web", "worker", "beat", "migrate"):
        env = set(services[name]["environment"])
        assert env <= SETTINGS_ENV, f"{name} sets variables settings never reads: {env - SETTINGS_ENV}"
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= env
        assert services[name]["environment"]["DEBUG"] == "0"


def test_design_variables_are_read_by_settings():
    design = {
        "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
        "CORS_ALLOWED_ORIGINS", "PROMETHEUS_URL", "LOKI_URL", "KUBECONFIG", "DETECTION_INTERVAL_SECONDS",
        "DETECTION_CONCURRENCY",
    }

    assert design <= SETTINGS_ENV


def test_compose_runs_the_demo_with_prometheus_scraping_it():
    compose = _compose()
    services = compose["services"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())

    assert {"prometheus", "alertmanager", "demo"} <= set(services)
    assert services["demo"]["command"][:3] == ["python", "-m", "demo.shop"]
    targets = {t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    assert "demo:8001" in targets
    env = services["web"]["environment"]
    assert env["DEMO_URL"].endswith("demo:8001}")
    assert env["PROMETHEUS_URL"].endswith("prometheus:9090}")
