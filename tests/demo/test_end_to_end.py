"""`make run`'s stack end to end: break checkout, see the incident, over the API and the socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port, require_service
from tests.support.prometheus import wait_for

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-password-123"


@pytest.fixture
def stack(tmp_path):
    """The studio as `make run` starts it, with short intervals, in its own SQLite database."""
    if not shutil.which("prometheus"):
        require_service("prometheus (apt-get install prometheus)")
    port, shop_port, prom_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'studio.sqlite3'}",
        DEBUG="1",
        DETECTION_INTERVAL_SECONDS="2",
        DEMO_URL=f"http://127.0.0.1:{shop_port}",
        PROMETHEUS_URL=f"http://127.0.0.1:{prom_port}",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput"], ["createsuperuser", "--noinput", "--username", "e2e", "--email", "e@x.io"]):
        subprocess.run([*manage, *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    log = (tmp_path / "studio.log").open("w")
    process = subprocess.Popen(
        [*manage, "studio", "--port", str(port), "--scrape-interval", "1s", "--rule-window", "5s",
         "--rule-for", "2", "--data-dir", str(tmp_path / "var")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=60, message="the studio to serve")
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


class SocketRecorder(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.messages, self.stop = url, [], threading.Event()
        self.connected = threading.Event()

    def run(self) -> None:
        with ws_client.connect(self.url, open_timeout=10) as socket:
            self.connected.set()
            while not self.stop.is_set():
                try:
                    self.messages.append(json.loads(socket.recv(timeout=0.5)))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return

    def types(self) -> list[str]:
        return [m.get("type") for m in self.messages]


def test_breaking_checkout_opens_an_incident_seen_over_api_and_websocket_then_the_alert_clears(stack):
    token = requests.post(f"{stack}/api/auth/token/", data={"username": "e2e", "password": PASSWORD}, timeout=5)
    auth = {"Authorization": f"Bearer {token.json()['access']}"}
    socket = SocketRecorder(stack.replace("http", "ws") + f"/api/realtime?token={token.json()['access']}")
    socket.start()
    assert socket.connected.wait(10)

    too_much = {"service": "checkout", "error_rate": 2}
    bad = requests.post(f"{stack}/api/test/fail", json=too_much, headers=auth, timeout=5)
    assert bad.status_code == 400 and "error_rate" in bad.json()

    broke_at = time.monotonic()
    fail = {"service": "checkout", "error_rate": 0.8, "duration": 120}
    assert requests.post(f"{stack}/api/test/fail", json=fail, headers=auth, timeout=5).status_code == 200

    def checkout_incident():
        incidents = requests.get(f"{stack}/api/incidents/", headers=auth, timeout=5).json()["results"]
        return next((i for i in incidents if "Checkout" in i["title"] and "Error Rate" in i["title"]), None)

    incident = wait_for(checkout_incident, timeout=30, interval=0.5, message="an incident for checkout")
    print(f"fault -> incident over the API: {time.monotonic() - broke_at:.1f} s")
    wait_for(lambda: "incident_created" in socket.types(), timeout=10, message="incident_created on the socket")

    assert requests.post(f"{stack}/api/test/recover", json={}, headers=auth, timeout=5).status_code == 200

    def alert_cleared():
        timeline = requests.get(f"{stack}/api/incidents/{incident['id']}/timeline/", headers=auth, timeout=5).json()
        events = timeline["results"] if isinstance(timeline, dict) else timeline
        return any(e["kind"] == "alert_cleared" for e in events)

    wait_for(alert_cleared, timeout=30, interval=0.5, message="the checkout alert to clear")
    socket.stop.set()
    assert "alert" in socket.types()
