"""The shop's HTTP server: three services on one port, Prometheus metrics, JSON logs."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from demo.shop.faults import BadRequest, ShopState, parse_fail, parse_load

logger = logging.getLogger("shop")

# Service → (route, typical latency in seconds).
ROUTES = {
    "catalog": ("/catalog/products", 0.015),
    "checkout": ("/checkout/orders", 0.040),
    "payments": ("/payments/charge", 0.025),
}
LOAD_THREADS = 4
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests served.", ["service", "route", "code"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request.",
            ["service", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        # Start every series at zero, so rate() sees the first errors instead of a missing series.
        for service, (route, _) in ROUTES.items():
            for code in ("200", "500", "502"):
                self.requests.labels(service, route, code)
            self.duration.labels(service, route)


def log(level: int, message: str, **fields: Any) -> None:
    logger.log(level, json.dumps({"ts": time.time(), "level": logging.getLevelName(level), "msg": message, **fields}))


class Shop:
    def __init__(self, *, base_rps: float, port: int) -> None:
        self.state = ShopState(base_rps)
        self.metrics = Metrics()
        self.port = port
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def serve(self, service: str) -> tuple[int, dict[str, Any]]:
        """Do the work of one request to ``service``; returns (status, body)."""
        route, typical = ROUTES[service]
        started = time.perf_counter()
        status, body = self._work(service, typical)
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(service, route, str(status)).inc()
        self.metrics.duration.labels(service, route).observe(elapsed)
        level = logging.ERROR if status >= 500 else logging.INFO
        duration_ms = round(elapsed * 1000)
        log(level, body.get("error", "ok"), service=service, route=route, code=status, duration_ms=duration_ms)
        return status, body

    def _work(self, service: str, typical: float) -> tuple[int, dict[str, Any]]:
        fault = self.state.fault(service)
        time.sleep(random.uniform(0.5, 1.5) * typical + (fault.latency_ms / 1000 if fault else 0))
        if fault and random.random() < fault.error_rate:
            return 500, {"error": f"{service}: injected failure"}
        if service == "checkout":
            try:
                charge = self._session().post(f"http://127.0.0.1:{self.port}/payments/charge", timeout=10)
            except requests.RequestException as exc:
                return 502, {"error": f"checkout: payments unreachable: {exc.__class__.__name__}"}
            if charge.status_code >= 500:
                return 502, {"error": f"checkout: payments answered {charge.status_code}"}
            return 200, {"order": random.randint(1, 10**9), "payment": charge.json()}
        if service == "payments":
            return 200, {"charged": True}
        return 200, {"products": ["kettle", "teapot", "mug"]}


def make_handler(shop: Shop) -> type[BaseHTTPRequestHandler]:
    services_by_path = {route: service for service, (route, _) in ROUTES.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's dispatch name
            if self.path == "/metrics":
                self._send(200, generate_latest(shop.metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._json(200, {"status": "ok"})
            elif self.path == "/api/test/state":
                self._json(200, shop.state.describe())
            elif self.path in services_by_path:
                self._json(*shop.serve(services_by_path[self.path]))
            else:
                self._json(404, {"detail": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path in services_by_path:
                self._json(*shop.serve(services_by_path[self.path]))
                return
            try:
                body = self._body()
                if self.path == "/api/test/fail":
                    service, fault = parse_fail(body)
                    shop.state.set_fault(service, fault)
                    log(logging.WARNING, "fault injected", service=service, error_rate=fault.error_rate,
                        latency_ms=fault.latency_ms)
                elif self.path == "/api/test/load":
                    shop.state.add_load(*parse_load(body))
                elif self.path == "/api/test/recover":
                    shop.state.recover()
                    log(logging.WARNING, "recovered")
                else:
                    self._json(404, {"detail": "not found"})
                    return
            except BadRequest as exc:
                self._json(400, {exc.field: [exc.message]})
                return
            self._json(200, shop.state.describe())

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                raise BadRequest("body", "the body is not valid JSON") from None

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the shop writes its own structured log lines

    return Handler


def generate_load(shop: Shop, stop: threading.Event) -> None:
    """Browse the catalog and place orders at the current rate, from a few worker threads."""
    session = requests.Session()
    base = f"http://127.0.0.1:{shop.port}"
    while not stop.is_set():
        started = time.monotonic()
        path, method = random.choice([("/catalog/products", "GET"), ("/checkout/orders", "POST")])
        with contextlib.suppress(requests.RequestException):
            session.request(method, base + path, timeout=15)
        # Each of the threads carries an equal share of the rate.
        pause = LOAD_THREADS / max(shop.state.rps(), 0.1) - (time.monotonic() - started)
        stop.wait(max(pause, 0.0))


def run(*, host: str, port: int, base_rps: float) -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    server = ThreadingHTTPServer((host, port), None)  # type: ignore[arg-type]
    shop = Shop(base_rps=base_rps, port=server.server_address[1])
    server.RequestHandlerClass = make_handler(shop)
    server.daemon_threads = True
    stop = threading.Event()
    for _ in range(LOAD_THREADS):
        threading.Thread(target=generate_load, args=(shop, stop), daemon=True).start()
    # The parent (make run, tests) reads this line to learn the port when it asked for 0.
    print(f"shop listening on http://{host}:{shop.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
