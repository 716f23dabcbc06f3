from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from demo.services import demo_setup
from detection.models import DataSource, DetectionRule
from incidents.models import Service, Team
from tests.conftest import free_port
from tests.factories import UserFactory
from tests.support.prometheus import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shop_url():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.shop", "--port", str(port), "--rps", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=1).ok, timeout=15, ignore=(requests.ConnectionError,))
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.django_db
def test_demo_setup_twice_creates_everything_once():
    UserFactory(username="root", is_superuser=True, is_staff=True)

    demo_setup(prometheus_url="http://127.0.0.1:9999")
    demo_setup(prometheus_url="http://127.0.0.1:9998")

    assert Team.objects.get(slug="shop").members.filter(username="root").exists()
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["catalog", "checkout", "payments"]
    assert list(Service.objects.get(slug="checkout").depends_on.values_list("slug", flat=True)) == ["payments"]
    assert DataSource.objects.get().url == "http://127.0.0.1:9998"
    assert sorted(DetectionRule.objects.values_list("name", flat=True)) == ["High Error Rate", "High Latency"]


@pytest.mark.django_db
def test_fault_injection_is_404_when_the_demo_is_off(client, settings):
    settings.DEMO_URL = None
    client.force_login(UserFactory(is_staff=True))

    assert client.post("/api/test/fail", {"service": "checkout"}, content_type="application/json").status_code == 404


@pytest.mark.django_db
def test_fault_injection_is_for_staff_only(client, settings, shop_url):
    settings.DEMO_URL = shop_url
    client.force_login(UserFactory())

    body = {"service": "checkout", "error_rate": 0.5}
    response = client.post("/api/test/fail", body, content_type="application/json")

    assert response.status_code == 403


@pytest.mark.django_db
def test_fault_injection_is_forwarded_to_the_shop_and_bad_bodies_name_the_field(client, settings, shop_url):
    settings.DEMO_URL = shop_url
    client.force_login(UserFactory(is_staff=True))

    bad = client.post("/api/test/fail", {"service": "inventory"}, content_type="application/json")
    assert bad.status_code == 400
    assert "service" in bad.json()

    bad_load = client.post("/api/test/load", {"rps": "lots"}, content_type="application/json")
    assert bad_load.status_code == 400
    assert "rps" in bad_load.json()

    ok = client.post(
        "/api/test/fail", {"service": "payments", "latency_ms": 1500, "duration": 30}, content_type="application/json"
    )
    assert ok.status_code == 200
    assert ok.json()["faults"]["payments"]["latency_ms"] == 1500

    recovered = client.post("/api/test/recover", {}, content_type="application/json")
    assert recovered.json()["faults"] == {}
