"""Liveness, readiness and the studio's own metrics; open to probes and scrapers."""

from __future__ import annotations

from collections.abc import Callable

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

PROBE_TIMEOUT_SECONDS = 1.0


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(
        url, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"redis at {client.connection_pool.connection_kwargs.get('host')}:"
                           f"{client.connection_pool.connection_kwargs.get('port')} unreachable ({exc})") from exc
    finally:
        client.close()


def _check_broker() -> None:
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        _ping_redis(settings.CELERY_BROKER_URL)


def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    hosts = getattr(layer, "hosts", None)
    if hosts:
        address = hosts[0].get("address") if isinstance(hosts[0], dict) else hosts[0]
        _ping_redis(address)
    # An in-memory layer lives in this process: if we can answer, it can.


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
    "channel_layer": _check_channel_layer,
}


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure makes the part unready; say which
            results[name] = f"error: {exc}"
        else:
            results[name] = "ok"
    failed = [name for name, result in results.items() if result != "ok"]
    body = {"status": "fail" if failed else "ok", "failed": failed, "checks": results}
    return JsonResponse(body, status=503 if failed else 200)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return ExportToDjangoView(request)
