from __future__ import annotations

import pytest
from channels.layers import channel_layers
from django.conf import settings


@pytest.mark.django_db
def test_healthz_answers_without_authentication(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_broker_and_channel_layer_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "channel_layer": "ok"}


@pytest.fixture
def redis_down(settings):
    """The production topology with Redis unreachable (a closed port)."""
    dead = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = dead
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.mark.django_db
def test_readyz_answers_503_naming_redis_when_it_is_down_and_other_pages_still_serve(client, redis_down):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker", "channel_layer"]
    assert "redis at 127.0.0.1:1 unreachable" in body["checks"]["broker"]
    assert body["checks"]["database"] == "ok"
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 200


@pytest.mark.django_db
def test_metrics_are_prometheus_text_with_request_counts_and_latency(client):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in text


def test_embedded_flag_follows_redis_url():
    in_memory = settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert settings.EMBEDDED is in_memory
