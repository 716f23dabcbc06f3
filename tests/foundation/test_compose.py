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
