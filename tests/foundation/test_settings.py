from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env_without_secret() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env["DEBUG"] = "0"
    return env


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "manage.py", "check"],
        [sys.executable, "-c", "import reliability_studio.asgi"],
        [sys.executable, "-m", "celery", "-A", "reliability_studio", "inspect", "ping"],
    ],
    ids=["manage", "asgi", "celery"],
)
def test_without_secret_key_and_debug_off_the_process_exits_with_one_sentence(argv):
    result = subprocess.run(argv, cwd=ROOT, env=_env_without_secret(), capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "SECRET_KEY is not set: set SECRET_KEY in the environment, or DEBUG=1 for local use."
    ]


def test_a_malformed_integer_setting_names_the_variable():
    env = dict(os.environ, DETECTION_INTERVAL_SECONDS="soon")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "DETECTION_INTERVAL_SECONDS must be an integer" in result.stderr
    assert "Traceback" not in result.stderr
