"""Across processes, as production runs: a Celery worker publishes, a web process's socket receives,
through channels_redis on a real Redis and a shared PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection
from websockets.sync.client import connect

from reliability_studio.celery import app as celery_app
from tests.conftest import WORKER, free_port
from tests.factories import IncidentFactory
from tests.realtime.conftest import decode, token_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def _database_url() -> str:
    """The test database pytest-django created, which the other processes must share."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _environment(redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        # The prefix this test's layer uses: per xdist worker and per session (see conftest).
        CHANNEL_LAYER_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        DEBUG="0",
    )
    return env


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def _next_event(socket, *, deadline: float) -> dict | None:
    """The next message that is not a heartbeat, or None when the deadline passes."""
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = decode(socket.recv(timeout=remaining))
        except TimeoutError:
            return None
        if message["type"] != "heartbeat":
            return message
    return None


def test_an_event_published_in_a_celery_worker_reaches_a_socket_on_a_web_process(
    crew, other_crew, redis_url, real_celery, tmp_path
):
    ours = IncidentFactory(service=crew.service, title="checkout is down")
    theirs = IncidentFactory(service=other_crew.service)
    env = _environment(redis_url)
    port = free_port()
    queue = f"rs-test-realtime-{WORKER}-{uuid.uuid4().hex[:8]}"
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"

    web = _start([sys.executable, "manage.py", "serve", "--port", str(port)], env, web_log)
    worker = _start(
        [sys.executable, "-m", "celery", "-A", "reliability_studio", "worker", "-I", "tests.realtime.worker_tasks",
         "--pool", "solo", "-Q", queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-l", "info"],
        env, worker_log,
    )
    try:
        _wait_until_serving(f"http://127.0.0.1:{port}/healthz", web, web_log)
        url = f"ws://127.0.0.1:{port}/api/realtime?token={token_for(crew.member)}"
        with connect(url, origin=f"http://127.0.0.1:{port}", open_timeout=10) as socket:
            assert decode(socket.recv(timeout=10))["type"] == "hello"
            # Idle past redis-py's default 5 s read timeout: the web process must still be listening.
            time.sleep(6)
            assert worker.poll() is None, worker_log.read_text()
            celery_app.send_task("tests.realtime.publish_incident_updates", args=[[theirs.pk, ours.pk]], queue=queue)
            message = _next_event(socket, deadline=time.monotonic() + 60)
            assert message is not None, worker_log.read_text() + web_log.read_text()
            assert _next_event(socket, deadline=time.monotonic() + 1) is None
    finally:
        _stop(worker)
        _stop(web)

    assert message["type"] == "incident_updated"
    assert message["data"]["id"] == ours.pk
    assert message["data"]["title"] == "checkout is down"
    assert message["data"]["published_by_pid"] == worker.pid
    assert "Traceback" not in web_log.read_text(), web_log.read_text()
    assert "Traceback" not in worker_log.read_text(), worker_log.read_text()
