"""Run a real Prometheus scraping a real process, for tests.

``start_exporter()`` runs this file as a child process: a small HTTP server exposing
``http_requests_total{service,route,code}`` and the ``http_request_duration_seconds`` histogram,
both growing with simulated traffic. Its error rate and latency can be flipped at runtime with
``ExporterProcess.set(...)`` (a POST to its ``/control`` endpoint), which is how detection tests
make an incident happen. ``start_prometheus()`` runs the Debian ``prometheus`` binary against it.

If the binary is missing, ``PrometheusNotInstalled`` is raised; callers decide whether that is a
skip or a failure (``RS_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SERVICES = ("checkout", "payments")
ROUTES = ("/api/orders", "/api/health")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusNotInstalled(RuntimeError):  # noqa: N818 - reads as the condition it reports
    """No ``prometheus`` binary on PATH (or at ``$RS_PROMETHEUS_BIN``)."""


# --------------------------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------------------------


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    *,
    interval: float = 0.1,
    message: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Exceptions listed in ``ignore`` count as "not yet" (a source still warming up); any other
    exception propagates at once. Raises ``TimeoutError`` naming ``message`` at the deadline.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except ignore as exc:
            last_error = exc
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"{message} not met within {timeout:g}s{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------------------------


@dataclass
class PrometheusProcess:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> PrometheusProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def prometheus_binary() -> str:
    """Path to the prometheus binary, or ``PrometheusNotInstalled``."""
    explicit = os.environ.get("RS_PROMETHEUS_BIN")
    path = explicit or shutil.which("prometheus")
    if not path or not os.access(path, os.X_OK):
        raise PrometheusNotInstalled(
            "prometheus is not installed (apt-get install prometheus, or set RS_PROMETHEUS_BIN)"
        )
    return path


def start_prometheus(
    targets: list[str],
    tmp_path: Path,
    *,
    scrape_interval: str = "1s",
    ready_timeout: float = 30.0,
    attempts: int = 3,
) -> PrometheusProcess:
    """Start Prometheus on a free loopback port, scraping ``targets`` (``host:port``) as job "exporter".

    Waits until ``/-/ready`` answers 200. The port is chosen before Prometheus binds it, so a
    lost race with another process is retried on a fresh port.
    """
    binary = prometheus_binary()
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(_prometheus_config(targets, scrape_interval))
    last_error = ""
    for attempt in range(attempts):
        port = free_port()
        data_dir = tmp_path / f"data-{attempt}"
        log_path = tmp_path / f"prometheus-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        prom = PrometheusProcess(process, port, data_dir, log_path)
        if _wait_ready(prom, ready_timeout):
            return prom
        prom.stop()
        last_error = prom.log_tail()
        if "address already in use" not in last_error:
            break
    raise RuntimeError(f"prometheus did not become ready within {ready_timeout:g}s:\n{last_error}")


def _prometheus_config(targets: list[str], scrape_interval: str) -> str:
    # JSON is YAML, and saves this module a YAML dependency.
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [{"job_name": "exporter", "static_configs": [{"targets": list(targets)}]}],
    }
    return json.dumps(config, indent=2)


def _wait_ready(prom: PrometheusProcess, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prom.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(prom.url + "/-/ready", timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# --------------------------------------------------------------------------------------------
# Exporter (parent side)
# --------------------------------------------------------------------------------------------


@dataclass
class ExporterProcess:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        """What a Prometheus scrape config lists: ``host:port``."""
        return f"127.0.0.1:{self.port}"

    def set(
        self,
        *,
        error_rate: float | None = None,
        latency_seconds: float | None = None,
        service: str | None = None,
    ) -> dict[str, Any]:
        """Change the simulated traffic of ``service`` (all services when None); returns the state."""
        change: dict[str, Any] = {"service": service}
        if error_rate is not None:
            change["error_rate"] = error_rate
        if latency_seconds is not None:
            change["latency_seconds"] = latency_seconds
        request = urllib.request.Request(
            self.url + "/control",
            data=json.dumps(change).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/control", timeout=5) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> ExporterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_exporter(
    *,
    requests_per_second: float = 20.0,
    error_rate: float = 0.0,
    latency_seconds: float = 0.05,
    start_timeout: float = 15.0,
) -> ExporterProcess:
    """Start the traffic-simulating exporter as a child process on a port it picks itself."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "exporter",
            f"--rps={requests_per_second}",
            f"--error-rate={error_rate}",
            f"--latency={latency_seconds}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    # The child binds port 0 and prints the port, so there is no window for another process to
    # take it between choosing and binding.
    stdout = process.stdout
    assert stdout is not None
    port_line: list[bytes] = []
    reader = threading.Thread(target=lambda: port_line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(start_timeout)
    line = port_line[0].decode().strip() if port_line else ""
    if not line.startswith("PORT "):
        _stop(process)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"exporter did not start within {start_timeout:g}s: {line!r}\n{stderr[-2000:]}")
    exporter = ExporterProcess(process, int(line.split()[1]))
    wait_for(lambda: _http_ok(exporter.url + "/metrics"), 5, message="exporter /metrics")
    return exporter


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --------------------------------------------------------------------------------------------
# Exporter (child side): ``python tests/support/prometheus.py exporter``
# --------------------------------------------------------------------------------------------


def _exporter_main(argv: list[str]) -> None:
    import argparse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

    parser = argparse.ArgumentParser()
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    registry = CollectorRegistry()
    requests_total = Counter(
        "http_requests", "Requests served, by outcome.", ["service", "route", "code"], registry=registry
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "Time to serve a request.",
        ["service", "route"],
        registry=registry,
        buckets=LATENCY_BUCKETS,
    )
    lock = threading.Lock()
    state = {s: {"error_rate": args.error_rate, "latency_seconds": args.latency} for s in SERVICES}
    # Fractional requests and errors carry over between ticks, so the simulated rates are exact.
    carry = {(s, r): [0.0, 0.0] for s in SERVICES for r in ROUTES}
    for service in SERVICES:
        for route in ROUTES:
            # Both outcomes exist from the first scrape: rate() cannot see a counter's first jump.
            for code in ("200", "500"):
                requests_total.labels(service, route, code)
            duration.labels(service, route)

    tick = 0.1

    parent = os.getppid()

    def simulate() -> None:
        while True:
            if os.getppid() != parent:
                # The test run died without stopping us; do not outlive it.
                os._exit(0)
            with lock:
                for (service, route), acc in carry.items():
                    cfg = state[service]
                    acc[0] += args.rps * tick
                    n = int(acc[0])
                    acc[0] -= n
                    acc[1] += n * cfg["error_rate"]
                    errors = min(int(acc[1]), n)
                    acc[1] -= errors
                    if errors:
                        requests_total.labels(service, route, "500").inc(errors)
                    if n - errors:
                        requests_total.labels(service, route, "200").inc(n - errors)
                    for _ in range(n):
                        duration.labels(service, route).observe(cfg["latency_seconds"])
            time.sleep(tick)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if self.path.startswith("/metrics"):
                with lock:
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/control"):
                with lock:
                    self._send(200, json.dumps(state).encode(), "application/json")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            if not self.path.startswith("/control"):
                return self._send(404, b"not found", "text/plain")
            length = int(self.headers.get("Content-Length") or 0)
            try:
                change = json.loads(self.rfile.read(length) or b"{}")
                services = [change["service"]] if change.get("service") else list(SERVICES)
                with lock:
                    for service in services:
                        for key in ("error_rate", "latency_seconds"):
                            if key in change:
                                state[service][key] = float(change[key])
                    body = json.dumps(state).encode()
            except (ValueError, KeyError, TypeError) as exc:
                return self._send(400, str(exc).encode(), "text/plain")
            self._send(200, body, "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=simulate, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1:2] != ["exporter"]:
        sys.exit("usage: prometheus.py exporter [--rps N] [--error-rate R] [--latency S] [--port P]")
    _exporter_main(sys.argv[2:])
