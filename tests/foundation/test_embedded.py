"""The embedded default (SQLite, in-memory layer, in-process Celery) works end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}", DEBUG="1")
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _wait_for(url: str, deadline: float) -> requests.Response:
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_embedded_default_migrates_runs_a_task_and_serves_then_stops_on_ctrl_c(tmp_path):
    env = _embedded_env(tmp_path)

    migrate = _manage(env, "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stderr

    task = _manage(env, "shell", "-c", "from reliability_studio.celery import ping; print(ping.delay().get())")
    assert task.returncode == 0, task.stderr
    assert task.stdout.strip().splitlines()[-1] == "pong"

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        login = _wait_for(f"http://127.0.0.1:{port}/accounts/login/", time.monotonic() + 30)
        assert login.status_code == 200
        assert "Sign in" in login.text
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)

    assert server.returncode == 0, output
    assert "Embedded Celery beat started" in output
